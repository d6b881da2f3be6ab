package server

import (
	"context"
	"net/http"

	"github.com/strata-gateway/strata/internal/anthropic"
	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/router"
	"github.com/strata-gateway/strata/internal/translate"
)

// countTokens serves POST /v1/messages/count_tokens with Bedrock's
// CountTokens: the Claude body as InvokeModel would get it, or the
// Converse translation for other models.
func (s *Server) countTokens(w http.ResponseWriter, r *http.Request) error {
	var req anthropic.MessagesRequest
	if err := s.readModelRequest(w, r, &req, &req.Model); err != nil {
		return err
	}
	if req.MaxTokens == 0 {
		// Counting takes no max_tokens; the bodies it counts need one.
		req.MaxTokens = 1
		req.Raw["max_tokens"] = []byte("1")
	}
	req.Stream = false
	fetched, err := s.fetchMessageSources(r.Context(), &req)
	if err != nil {
		return err
	}
	betas := anthropicBetas(r.Header)
	var count int
	recordFrom(r.Context()).callType = "count_tokens"
	call, err := s.routed(w, r, req.Model, metadataUser(req.Metadata), req.Raw, func(ctx context.Context, c *router.Call) error {
		d := c.Deployment
		if err := d.Serves(translate.APIChat); err != nil {
			return err
		}
		log := loggerFrom(r.Context(), s.log).With("model", req.Model, "deployment", d.ID)
		in := &bedrock.CountTokensRequest{}
		if translate.IsClaude(d.BaseModel) {
			tc, err := translate.InvokeFromMessages(&req, betas, d.Chat, fetched)
			if err != nil {
				return err
			}
			translate.LogDropped(log, tc.Dropped)
			in.Input.InvokeModel = &bedrock.InvokeModelTokens{Body: tc.Body}
		} else {
			tc, err := translate.ConverseFromMessages(&req, d.Chat)
			if err != nil {
				return err
			}
			translate.LogDropped(log, tc.Dropped)
			cr := tc.Request
			in.Input.Converse = &bedrock.ConverseTokens{Messages: cr.Messages, System: cr.System, ToolConfig: cr.ToolConfig,
				AdditionalModelRequestFields: cr.AdditionalModelRequestFields}
		}
		n, err := d.Client.CountTokens(ctx, d.ModelID, in)
		if err != nil {
			return err
		}
		count = n
		return nil
	})
	if err != nil {
		return err
	}
	call.Finish(router.Usage{}, nil)
	writeJSON(w, http.StatusOK, anthropic.CountTokensResponse{InputTokens: count})
	return nil
}
