package emulator

import (
	"slices"
	"strings"

	"github.com/strata-gateway/strata/internal/bedrock"
)

// Converse features only some models take, which Bedrock refuses on the
// others. The emulator keeps its own tables, from the Bedrock User Guide,
// so a gateway that sends a feature to the wrong model is caught.

// promptCachingModels take cachePoint blocks ("Prompt caching for faster
// model inference": Claude 3.5 Haiku, 3.7 Sonnet and the Claude 4 models,
// Amazon Nova).
var promptCachingModels = []string{
	"anthropic.claude-3-5-haiku", "anthropic.claude-3-7-sonnet",
	"anthropic.claude-sonnet-4", "anthropic.claude-opus-4", "anthropic.claude-haiku-4",
	"amazon.nova",
}

// errNoPromptCaching is Bedrock's answer to a cache point on a model
// without prompt caching.
const errNoPromptCaching = "You invoked an unsupported model or your request did not allow prompt caching. See the documentation for more information."

func hasPrefix(table []string, modelID string) bool {
	id := baseModelID(modelID)
	return slices.ContainsFunc(table, func(p string) bool { return strings.HasPrefix(id, p) })
}

// cachePoints lists the request's cache points: system, messages, tools.
func cachePoints(req *bedrock.ConverseRequest) []*bedrock.CachePointBlock {
	var out []*bedrock.CachePointBlock
	for _, b := range req.System {
		if b.CachePoint != nil {
			out = append(out, b.CachePoint)
		}
	}
	for _, m := range req.Messages {
		for _, b := range m.Content {
			if b.CachePoint != nil {
				out = append(out, b.CachePoint)
			}
		}
	}
	if req.ToolConfig != nil {
		for _, t := range req.ToolConfig.Tools {
			if t.CachePoint != nil {
				out = append(out, t.CachePoint)
			}
		}
	}
	return out
}
