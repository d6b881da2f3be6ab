package router

import (
	"net/http"

	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/translate"
)

// Serves checks that the deployment answers on api's endpoint. A client
// that calls the wrong one (embeddings on a chat model, chat on an image
// model) gets a 400 naming the endpoint the model serves.
func (d *Deployment) Serves(api translate.API) error {
	served := d.API
	if served == "" {
		served = translate.APIChat
	}
	if served == api {
		return nil
	}
	kinds := map[translate.API]string{translate.APIChat: "a chat", translate.APIEmbeddings: "an embedding", translate.APIImages: "an image-generation", translate.APIRerank: "a rerank"}
	return &openai.Error{Status: http.StatusBadRequest, Type: openai.TypeInvalidRequest, Param: "model", Code: "wrong_endpoint",
		Message: "model " + d.Name + " (" + d.BaseModel + ") is " + kinds[served] + " model: it serves POST " + served.Path() +
			", not " + api.Path()}
}
