package translate

import (
	"maps"

	"github.com/strata-gateway/strata/internal/openai"
)

// WithoutParams returns req without the named top-level parameters, as a
// deployment's additional_drop_params asks, and which of them the client
// had sent. req itself is left as it was: another deployment of the same
// model name may keep them. With nothing to drop, req is returned as is.
func WithoutParams(req *openai.ChatRequest, names []string) (*openai.ChatRequest, []Dropped) {
	var out *openai.ChatRequest
	var dropped []Dropped
	clone := func() *openai.ChatRequest {
		if out == nil {
			c := *req
			c.Unsupported, c.Ignored, c.Extra = maps.Clone(req.Unsupported), maps.Clone(req.Ignored), maps.Clone(req.Extra)
			out = &c
		}
		return out
	}
	for _, name := range names {
		if !hasParam(req, name) {
			continue
		}
		clearParam(clone(), name)
		dropped = append(dropped, Dropped{name, "dropped by the deployment's additional_drop_params"})
	}
	if out == nil {
		return req, nil
	}
	return out, dropped
}

func hasParam(r *openai.ChatRequest, name string) bool {
	switch name {
	case "temperature":
		return r.Temperature != nil
	case "top_p":
		return r.TopP != nil
	case "max_tokens":
		return r.MaxTokens != nil
	case "max_completion_tokens":
		return r.MaxCompletionTokens != nil
	case "stop":
		return len(r.Stop) > 0
	case "n":
		return r.N != nil
	case "tools":
		return r.Tools != nil
	case "tool_choice":
		return r.ToolChoice != nil
	case "parallel_tool_calls":
		return r.ParallelToolCalls != nil
	case "functions":
		return r.Functions != nil
	case "function_call":
		return r.FunctionCall != nil
	case "response_format":
		return r.ResponseFormat != nil
	case "reasoning_effort":
		return r.ReasoningEffort != ""
	case "user":
		return r.User != ""
	case "service_tier":
		return r.ServiceTier != ""
	}
	_, unsupported := r.Unsupported[name]
	_, ignored := r.Ignored[name]
	_, extra := r.Extra[name]
	return unsupported || ignored || extra
}

func clearParam(r *openai.ChatRequest, name string) {
	switch name {
	case "temperature":
		r.Temperature = nil
	case "top_p":
		r.TopP = nil
	case "max_tokens":
		r.MaxTokens = nil
	case "max_completion_tokens":
		r.MaxCompletionTokens = nil
	case "stop":
		r.Stop = nil
	case "n":
		r.N = nil
	case "tools":
		r.Tools = nil
	case "tool_choice":
		r.ToolChoice = nil
	case "parallel_tool_calls":
		r.ParallelToolCalls = nil
	case "functions":
		r.Functions = nil
	case "function_call":
		r.FunctionCall = nil
	case "response_format":
		r.ResponseFormat = nil
	case "reasoning_effort":
		r.ReasoningEffort = ""
	case "user":
		r.User = ""
	case "service_tier":
		r.ServiceTier = ""
	default:
		delete(r.Unsupported, name)
		delete(r.Ignored, name)
		delete(r.Extra, name)
	}
}
