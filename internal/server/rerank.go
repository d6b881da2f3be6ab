package server

import (
	"context"
	"crypto/rand"
	"net/http"
	"slices"
	"strings"

	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/router"
	"github.com/strata-gateway/strata/internal/spend"
	"github.com/strata-gateway/strata/internal/translate"
)

// rerankRoutingKeys are the keys of a rerank request the gateway itself
// reads (routing); any other key Cohere does not define is logged as
// ignored.
var rerankRoutingKeys = map[string]bool{"num_retries": true, "timeout": true, "fallbacks": true, "metadata": true}

// rerank serves Cohere's rerank request, as LiteLLM does on /rerank,
// /v1/rerank and /v2/rerank, through Bedrock's Rerank operation.
func (s *Server) rerank(w http.ResponseWriter, r *http.Request) error {
	var req openai.RerankRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		return err
	}
	if req.Model == "" {
		return openai.InvalidRequest("model", "model is required")
	}
	if err := s.admitModel(r.Context(), req.Model); err != nil {
		return err
	}
	s.logIgnoredRerankKeys(r.Context(), &req)
	recordFrom(r.Context()).callType = "rerank"
	var resp *openai.RerankResponse
	call, err := s.routed(w, r, req.Model, req.User, req.Extra, func(ctx context.Context, c *router.Call) error {
		out, err := rerankOn(ctx, c.Deployment, &req)
		if err == nil {
			resp = out
		}
		return err
	})
	if err != nil {
		return err
	}
	s.finish(w, recordFrom(r.Context()), call, router.Usage{}, spend.Usage{Queries: resp.Meta.BilledUnits.SearchUnits}, nil)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// rerankOn makes the Rerank call on d.
func rerankOn(ctx context.Context, d *router.Deployment, req *openai.RerankRequest) (*openai.RerankResponse, error) {
	if err := d.Serves(translate.APIRerank); err != nil {
		return nil, err
	}
	in, err := translate.RerankFromRequest(req, d.Rerank, d.Client.FoundationModelARN(d.ModelID))
	if err != nil {
		return nil, err
	}
	out, err := d.Client.Rerank(ctx, in)
	if err != nil {
		return nil, err
	}
	return translate.RerankResponse(req, out, rand.Text())
}

// logIgnoredRerankKeys says which parts of a request Bedrock's Rerank has
// no place for: Cohere's rank_fields and max_chunks_per_doc, and keys
// neither Cohere nor the gateway knows.
func (s *Server) logIgnoredRerankKeys(ctx context.Context, req *openai.RerankRequest) {
	var ignored []string
	if req.RankFields != nil {
		ignored = append(ignored, "rank_fields")
	}
	if req.MaxChunksPerDoc != nil {
		ignored = append(ignored, "max_chunks_per_doc")
	}
	for k := range req.Extra {
		if !rerankRoutingKeys[k] {
			ignored = append(ignored, k)
		}
	}
	if len(ignored) == 0 {
		return
	}
	slices.Sort(ignored)
	loggerFrom(ctx, s.log).Warn("rerank: request keys Bedrock's Rerank has no place for are not sent", "keys", strings.Join(ignored, ","))
}
