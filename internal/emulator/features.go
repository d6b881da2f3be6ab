package emulator

import (
	"encoding/json"
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

// structuredOutputModels take outputConfig.textFormat ("Get validated JSON
// results from models": Claude Sonnet 4.5, Haiku 4.5, Opus 4.5 and 4.6;
// gpt-oss and Kimi among the open-weight models).
var structuredOutputModels = []string{
	"anthropic.claude-sonnet-4-5", "anthropic.claude-haiku-4-5", "anthropic.claude-opus-4-5",
	"anthropic.claude-opus-4-6", "anthropic.claude-sonnet-4-6",
	"openai.gpt-oss", "moonshot.kimi",
}

// errNoStructuredOutput is the answer to outputConfig on a model without
// structured outputs.
const errNoStructuredOutput = "This model doesn't support the outputConfig.textFormat field. Remove the field and try again."

// outputConfigProblem returns what is wrong with a request's outputConfig
// for modelID, or "".
func outputConfigProblem(modelID string, out *bedrock.OutputConfig) string {
	if out == nil || out.TextFormat == nil {
		return ""
	}
	if !hasPrefix(structuredOutputModels, modelID) {
		return errNoStructuredOutput
	}
	js := out.TextFormat.Structure.JSONSchema
	if js == nil {
		return "The outputConfig.textFormat.structure field must contain jsonSchema."
	}
	var schema map[string]any
	if err := json.Unmarshal([]byte(js.Schema), &schema); err != nil {
		return "The JSON schema in outputConfig.textFormat.structure.jsonSchema.schema is not valid JSON. Correct the schema and try again."
	}
	return ""
}

// schemaAnswer is the unscripted answer to a request with a JSON schema:
// an instance of the schema, its strings the echo of the last user turn,
// so a test sees both that the schema reached the model and whose words
// the answer carries.
func schemaAnswer(req *bedrock.ConverseRequest) bedrock.ConverseResponse {
	var schema any
	_ = json.Unmarshal([]byte(req.OutputConfig.TextFormat.Structure.JSONSchema.Schema), &schema)
	raw, _ := json.Marshal(instanceOf(schema, echoPrefix+lastUserText(req), 0))
	text := string(raw)
	return bedrock.ConverseResponse{
		Output:     bedrock.ConverseOutput{Message: &bedrock.Message{Role: "assistant", Content: []bedrock.ContentBlock{{Text: &text}}}},
		StopReason: bedrock.StopEndTurn,
		Usage:      usageFor(inputWords(req), countWords(text)),
	}
}

// instanceOf builds a value that satisfies schema: every property of an
// object (required or not), one item of an array, the first enum or const
// value, the first choice of anyOf/oneOf, all of allOf merged.
func instanceOf(schema any, text string, depth int) any {
	s, ok := schema.(map[string]any)
	if !ok || depth > 16 {
		return nil
	}
	if c, ok := s["const"]; ok {
		return c
	}
	if e, ok := s["enum"].([]any); ok && len(e) > 0 {
		return e[0]
	}
	for _, key := range []string{"anyOf", "oneOf"} {
		if choices, ok := s[key].([]any); ok && len(choices) > 0 {
			return instanceOf(choices[0], text, depth+1)
		}
	}
	if all, ok := s["allOf"].([]any); ok {
		merged := map[string]any{}
		for _, part := range all {
			if m, ok := instanceOf(part, text, depth+1).(map[string]any); ok {
				for k, v := range m {
					merged[k] = v
				}
			}
		}
		return merged
	}
	typ := s["type"]
	if list, ok := typ.([]any); ok && len(list) > 0 {
		typ = list[0]
	}
	switch typ {
	case "string":
		return text
	case "integer", "number":
		return countWords(text)
	case "boolean":
		return true
	case "null":
		return nil
	case "array":
		return []any{instanceOf(s["items"], text, depth+1)}
	}
	obj := map[string]any{}
	if props, ok := s["properties"].(map[string]any); ok {
		for name, p := range props {
			obj[name] = instanceOf(p, text, depth+1)
		}
	}
	return obj
}
