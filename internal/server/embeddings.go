package server

import (
	"context"
	"net/http"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/router"
	"github.com/strata-gateway/strata/internal/spend"
	"github.com/strata-gateway/strata/internal/translate"
)

// maxParallelEmbedCalls bounds the InvokeModel calls of one embeddings
// request (Titan takes one text per call).
const maxParallelEmbedCalls = 8

func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) error {
	var req openai.EmbeddingRequest
	if err := s.readModelRequest(w, r, &req, &req.Model); err != nil {
		return err
	}
	recordFrom(r.Context()).callType = "embeddings"
	var resp *openai.EmbeddingResponse
	call, err := s.routed(w, r, req.Model, req.User, req.Extra, func(ctx context.Context, c *router.Call) error {
		out, err := s.embed(ctx, c.Deployment, &req)
		if err == nil {
			resp = out
		}
		return err
	})
	if err != nil {
		return err
	}
	s.finish(w, recordFrom(r.Context()), call, router.Usage{InputTokens: resp.Usage.PromptTokens}, spend.Usage{InputTokens: resp.Usage.PromptTokens}, nil)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// embed makes the request's InvokeModel calls on d, a few at a time, and
// puts the vectors back in input order. The first failure cancels the rest.
func (s *Server) embed(ctx context.Context, d *router.Deployment, req *openai.EmbeddingRequest) (*openai.EmbeddingResponse, error) {
	if err := d.Serves(translate.APIEmbeddings); err != nil {
		return nil, err
	}
	plan, err := translate.EmbedFromRequest(req, d.Embed)
	if err != nil {
		return nil, err
	}
	vectors := make([][]float32, plan.Inputs)
	var tokens atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(maxParallelEmbedCalls)
	for _, call := range plan.Calls {
		g.Go(func() error {
			resp, err := d.Client.Invoke(ctx, d.ModelID, call.Body)
			if err != nil {
				return err
			}
			v, n, err := translate.VectorsFromInvoke(d.Embed, call, resp)
			if err != nil {
				return err
			}
			copy(vectors[call.First:], v)
			tokens.Add(int64(n))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return translate.EmbeddingsResponse(plan, vectors, int(tokens.Load()), d.BaseModel), nil
}
