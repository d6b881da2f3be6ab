// Package router maps a client's model name to the deployments that serve
// it and picks the one a call goes to. It owns selection only; it does not
// translate or speak HTTP to clients.
package router

import (
	"fmt"
	"slices"
	"strings"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/translate"
)

// Deployment is one model_list entry, ready to serve: its Bedrock client
// and translation target are built once, at startup.
type Deployment struct {
	Name      string // model_name clients ask for
	ID        string // stable id for logs and metrics: "<model_name>#<n>"
	BaseModel string // Bedrock base model id: decides translation family
	ModelID   string // id in the Bedrock URL: base model, profile or ARN
	Client    *bedrock.Client
	Chat      *translate.ChatTarget
	API       translate.API           // the endpoint the model serves
	Route     string                  // translate.RouteConverse or translate.RouteInvoke
	Invoke    *translate.InvokeTarget // chat through InvokeModel; nil on Converse
	Embed     *translate.EmbedTarget  // set for embedding models
	Image     *translate.ImageTarget  // set for image-generation models
}

// Router holds the deployments by model name.
type Router struct {
	byName map[string][]*Deployment
	names  []string // in config order, each once
}

// New builds a router over deployments, kept in the order given.
func New(deployments []*Deployment) *Router {
	r := &Router{byName: make(map[string][]*Deployment)}
	for _, d := range deployments {
		if _, seen := r.byName[d.Name]; !seen {
			r.names = append(r.names, d.Name)
		}
		r.byName[d.Name] = append(r.byName[d.Name], d)
	}
	return r
}

// Names lists the model names served, in config order.
func (r *Router) Names() []string { return slices.Clone(r.names) }

// Deployments lists the deployments of a model name.
func (r *Router) Deployments(name string) []*Deployment { return r.byName[name] }

// Pick chooses the deployment for a call to the model name. Unknown names
// are the client's mistake: a 400 naming the models that exist.
func (r *Router) Pick(name string) (*Deployment, error) {
	ds := r.byName[name]
	if len(ds) == 0 {
		return nil, r.unknownModel(name)
	}
	return ds[0], nil
}

func (r *Router) unknownModel(name string) error {
	if name == "" {
		return openai.InvalidRequest("model", "model is required; available models: %s", strings.Join(r.names, ", "))
	}
	e := openai.InvalidRequest("model", "model %q is not served here; available models: %s", name, strings.Join(r.names, ", "))
	e.Code = "model_not_found"
	return e
}

// String describes the router for startup logs.
func (r *Router) String() string {
	var b strings.Builder
	for _, n := range r.names {
		fmt.Fprintf(&b, "%s(%d) ", n, len(r.byName[n]))
	}
	return strings.TrimSpace(b.String())
}
