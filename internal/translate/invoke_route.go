package translate

import "fmt"

// Targets are the translation targets of one deployment: what it serves,
// the route it takes to Bedrock, and the target of that route.
type Targets struct {
	Family Family
	Route  string        // RouteConverse, RouteInvoke or RouteRerank
	Chat   *ChatTarget   // chat models, whatever the route
	Invoke *InvokeTarget // chat through InvokeModel
	Embed  *EmbedTarget  // embedding models
	Image  *ImageTarget  // image-generation models
	Rerank *RerankTarget // rerank models
}

// NewTargets builds the targets of a deployment of model, with the route
// its config forces ("" lets the family decide) and its litellm_params.
// The error says what is wrong and what to write instead; warning is set
// for a model whose provider Strata does not know.
func NewTargets(model, forcedRoute string, params map[string]any, dropParams bool) (*Targets, string, error) {
	f, route, warning, err := Route(model, forcedRoute)
	if err != nil {
		return nil, warning, err
	}
	t := &Targets{Family: f, Route: route}
	switch f.API {
	case APIEmbeddings:
		t.Embed, err = NewEmbedTarget(model, f, params)
	case APIImages:
		t.Image, err = NewImageTarget(model, f, params)
	case APIRerank:
		t.Rerank = NewRerankTarget(params)
	default:
		t.Chat, err = NewChatTarget(model, params, dropParams)
		if err == nil && route == RouteInvoke {
			t.Invoke, err = NewInvokeTarget(model, f, params, dropParams)
		}
	}
	if err != nil {
		return nil, warning, fmt.Errorf("litellm_params: %w", err)
	}
	return t, warning, nil
}
