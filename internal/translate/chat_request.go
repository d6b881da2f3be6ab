// Package translate holds the pure functions between OpenAI's wire format and
// Bedrock's: requests, responses, stream events and errors. Nothing here does
// I/O, reads a clock or keeps global state; per-stream state is explicit.
package translate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
)

// ChatTarget is what translation needs to know about the deployment a chat
// request goes to. Build it once per deployment with NewChatTarget.
type ChatTarget struct {
	// Model is the Bedrock base model id; it decides family behaviour.
	Model string
	// DropParams drops OpenAI parameters Bedrock cannot honour instead of
	// refusing the request (litellm_settings.drop_params).
	DropParams bool
	// Caps is what the model can do on Converse.
	Caps Capabilities

	defaultInference bedrock.InferenceConfig
	defaultExtra     map[string]json.RawMessage
	guardrail        *bedrock.GuardrailConfig
	serviceTier      *bedrock.ServiceTier       // litellm_params.service_tier
	performance      *bedrock.PerformanceConfig // litellm_params.performanceConfig
	cacheInjections  []cacheInjection           // litellm_params.cache_control_injection_points
}

// inferenceParams are the config/request keys that map to Converse's
// inferenceConfig rather than to additionalModelRequestFields.
var inferenceParams = map[string]bool{
	"temperature": true, "top_p": true, "max_tokens": true,
	"max_completion_tokens": true, "stop": true,
}

// gatewayParams are request keys the gateway itself acts on; they are never
// forwarded to the model.
var gatewayParams = map[string]bool{
	guardrailParam: true, "drop_params": true, "fallbacks": true, "num_retries": true, "timeout": true,
	"stream_timeout": true, "context_window_fallbacks": true, "mock_testing_fallbacks": true,
	injectionParam: true,
}

// NewChatTarget validates a deployment's default parameters (litellm_params
// other than model and credentials) and pre-encodes them, so requests only
// merge. temperature, top_p, max_tokens and stop become inferenceConfig
// defaults; every other key is provider-specific and goes to
// additionalModelRequestFields.
func NewChatTarget(model string, defaults map[string]any, dropParams bool) (*ChatTarget, error) {
	t := &ChatTarget{Model: model, DropParams: dropParams}
	t.Caps, _ = CapabilitiesOf(model)
	for _, k := range slices.Sorted(maps.Keys(defaults)) {
		v := defaults[k]
		if k == guardrailParam {
			g, err := guardrailFromValue(v)
			if err != nil {
				return nil, err
			}
			t.guardrail = g
			continue
		}
		if k == injectionParam {
			raw, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			points, fe := cacheInjectionsFrom(raw)
			if fe != nil {
				return nil, fe
			}
			t.cacheInjections = points
			continue
		}
		if k == serviceTierParam || k == performanceParam {
			raw, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if k == serviceTierParam {
				t.serviceTier, err = serviceTierFrom(raw)
			} else {
				t.performance, err = performanceFrom(raw)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			continue
		}
		if !inferenceParams[k] {
			raw, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if t.defaultExtra == nil {
				t.defaultExtra = make(map[string]json.RawMessage)
			}
			t.defaultExtra[k] = raw
			continue
		}
		if err := setInferenceDefault(&t.defaultInference, k, v); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func setInferenceDefault(ic *bedrock.InferenceConfig, key string, v any) error {
	switch key {
	case "temperature", "top_p":
		f, ok := asFloat(v)
		if !ok {
			return fmt.Errorf("%s must be a number, got %T", key, v)
		}
		if key == "temperature" {
			ic.Temperature = &f
		} else {
			ic.TopP = &f
		}
	case "max_tokens", "max_completion_tokens":
		f, ok := asFloat(v)
		if !ok || f != float64(int(f)) || f < 1 {
			return fmt.Errorf("%s must be a positive integer", key)
		}
		n := int(f)
		ic.MaxTokens = &n
	case "stop":
		switch s := v.(type) {
		case string:
			ic.StopSequences = []string{s}
		case []any:
			for _, e := range s {
				str, ok := e.(string)
				if !ok {
					return fmt.Errorf("stop must be a string or a list of strings")
				}
				ic.StopSequences = append(ic.StopSequences, str)
			}
		default:
			return fmt.Errorf("stop must be a string or a list of strings")
		}
	}
	return nil
}

func asFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// Dropped names a request parameter that was not sent to Bedrock, and why.
// The caller logs these: nothing a client sent disappears without a trace.
type Dropped struct {
	Param  string
	Reason string
}

// ConverseCall is a translated chat request and what the answer's
// translation must know about it.
type ConverseCall struct {
	Request *bedrock.ConverseRequest
	// Dropped lists the parameters that were not forwarded, for the log.
	Dropped []Dropped
	// Answer says how to read Bedrock's answer to this request.
	Answer AnswerShape
	// StreamFallback: the client asked for a stream the model cannot give
	// (no ConverseStream, or no tool use while streaming), so the answer is
	// fetched whole and replayed as a stream (see ReplayAsStream).
	StreamFallback bool
}

// ConverseFromChat turns an OpenAI chat request into a Converse request for
// target. Problems the client must fix come back as *openai.Error.
func ConverseFromChat(req *openai.ChatRequest, target *ChatTarget) (*ConverseCall, error) {
	if len(req.Messages) == 0 {
		return nil, openai.InvalidRequest("messages", "messages must contain at least one message")
	}
	dropParams := target.DropParams
	if raw, ok := req.Extra["drop_params"]; ok {
		var b bool
		if json.Unmarshal(raw, &b) == nil {
			dropParams = b
		}
	}

	var dropped []Dropped
	for _, name := range slices.Sorted(maps.Keys(req.Unsupported)) {
		raw := req.Unsupported[name]
		if neutralValue(name, raw) {
			dropped = append(dropped, Dropped{name, "its value has no effect"})
			continue
		}
		if !dropParams {
			return nil, openai.InvalidRequest(name,
				"%s is not supported by Bedrock model %s; remove it, or set litellm_settings.drop_params: true (or drop_params: true in the request) to drop it",
				name, target.Model)
		}
		dropped = append(dropped, Dropped{name, "not supported by Bedrock; dropped by drop_params"})
	}
	if req.N != nil && *req.N != 1 {
		if !dropParams {
			return nil, openai.InvalidRequest("n", "n=%d is not supported: Bedrock returns one choice per request; remove n, or set drop_params: true to drop it", *req.N)
		}
		dropped = append(dropped, Dropped{"n", "Bedrock returns one choice; dropped by drop_params"})
	}
	for _, name := range slices.Sorted(maps.Keys(req.Ignored)) {
		dropped = append(dropped, Dropped{name, "OpenAI platform parameter with no Bedrock equivalent"})
	}
	if req.User != "" {
		dropped = append(dropped, Dropped{"user", "not sent to Bedrock"})
	}
	if d, ok := droppedNames(req.Messages); ok {
		dropped = append(dropped, d)
	}
	if req.ParallelToolCalls != nil && !*req.ParallelToolCalls {
		dropped = append(dropped, Dropped{"parallel_tool_calls", "Converse has no switch to forbid parallel tool calls; the model may still call several tools in one turn"})
	}

	out := &bedrock.ConverseRequest{}
	plan, err := toolConfigFromChat(req, NativeStructuredOutput(target.Model))
	if err != nil {
		return nil, err
	}
	injections, err := requestInjections(req, target)
	if err != nil {
		return nil, err
	}
	msgs, toolMark, notInjected := injectCacheControl(req.Messages, injections)
	dropped = append(dropped, notInjected...)
	if toolMark != nil {
		plan.markTools(toolMark)
	}
	out.ToolConfig = plan.config
	out.OutputConfig = plan.output
	caps := target.Caps
	if plan.config != nil && !caps.Tools {
		param := "tools"
		if len(req.Tools) == 0 && len(req.Functions) == 0 {
			param = "response_format"
		}
		return nil, openai.InvalidRequest(param, "Bedrock model %s does not support tool use on Converse, which %s needs", target.Model, param)
	}
	if !plan.offered && historyHasTools(msgs) {
		switch {
		case !caps.Tools:
			dropped = append(dropped, Dropped{"messages", "Bedrock model " + target.Model + " has no tool use here: the tool calls and results of the history were sent as text"})
		case plan.declareHistoryTools(msgs):
			out.ToolConfig = plan.config
		}
	}
	if err := convertMessages(msgs, out, plan.config != nil); err != nil {
		return nil, err
	}
	dropped = append(dropped, fitCachePoints(out, target.Model)...)
	if err := checkMedia(out.Messages, caps, target.Model); err != nil {
		return nil, err
	}
	if len(out.System) > 0 && !caps.System {
		dropped = append(dropped, mergeSystemIntoFirstUserTurn(out)...)
	}
	guardrail, err := guardrailFromRequest(req, target)
	if err != nil {
		return nil, err
	}
	if guardrail != nil && !caps.Guardrails {
		return nil, openai.InvalidRequest(guardrailParam, "Bedrock model %s does not support guardrails on Converse", target.Model)
	}
	out.GuardrailConfig = guardrail
	ic, err := inferenceFromChat(req, target)
	if err != nil {
		return nil, err
	}
	fields := additionalFields(req, target)
	if req.ReasoningEffort != "" {
		if fields == nil {
			fields = make(map[string]json.RawMessage, 1)
		}
		if err := applyReasoningEffort(req.ReasoningEffort, target.Model, fields, &ic); err != nil {
			return nil, err
		}
	}
	if !inferenceIsZero(&ic) {
		out.InferenceConfig = &ic
	}
	out.ServiceTier, out.PerformanceConfig = target.serviceTier, target.performance
	if req.ServiceTier != "" {
		tier, err := serviceTierFrom(jsonString(req.ServiceTier))
		if err != nil {
			return nil, openai.InvalidRequest(serviceTierParam, "%s: %v", serviceTierParam, err)
		}
		out.ServiceTier = tier
	}
	if raw, ok := req.Extra[performanceParam]; ok {
		perf, err := performanceFrom(raw)
		if err != nil {
			return nil, openai.InvalidRequest(performanceParam, "%s: %v", performanceParam, err)
		}
		out.PerformanceConfig = perf
	}
	if len(fields) > 0 {
		raw, err := json.Marshal(fields)
		if err != nil {
			return nil, openai.InvalidRequest("", "provider-specific parameters are not valid JSON: %v", err)
		}
		out.AdditionalModelRequestFields = raw
	}
	return &ConverseCall{
		Request:        out,
		Dropped:        dropped,
		Answer:         AnswerShape{JSONTool: plan.jsonTool, JSONWrapped: plan.jsonWrapped, Withheld: plan.withheld},
		StreamFallback: req.Stream && (!caps.Stream || (plan.config != nil && !caps.StreamTools)),
	}, nil
}

// neutralValue reports whether an unsupported parameter carries the value
// that means "off" (clients such as LangChain send these by default).
func neutralValue(name string, raw json.RawMessage) bool {
	var compact bytes.Buffer
	if json.Compact(&compact, raw) != nil {
		return false
	}
	v := compact.String()
	switch v {
	case "null":
		return true
	case "false":
		return name == "logprobs"
	case "0", "0.0":
		return name == "presence_penalty" || name == "frequency_penalty" || name == "top_logprobs"
	case "{}":
		return name == "logit_bias"
	case `["text"]`:
		return name == "modalities" // text out is all Bedrock chat gives
	}
	return false
}

func inferenceFromChat(req *openai.ChatRequest, target *ChatTarget) (bedrock.InferenceConfig, error) {
	ic := target.defaultInference
	if req.Temperature != nil {
		if *req.Temperature < 0 || *req.Temperature > 2 {
			return ic, openai.InvalidRequest("temperature", "temperature must be between 0 and 2, got %v", *req.Temperature)
		}
		ic.Temperature = req.Temperature
	}
	if req.TopP != nil {
		if *req.TopP < 0 || *req.TopP > 1 {
			return ic, openai.InvalidRequest("top_p", "top_p must be between 0 and 1, got %v", *req.TopP)
		}
		ic.TopP = req.TopP
	}
	maxTokens, param := req.MaxCompletionTokens, "max_completion_tokens"
	if maxTokens == nil {
		maxTokens, param = req.MaxTokens, "max_tokens"
	}
	if maxTokens != nil {
		if *maxTokens < 1 {
			return ic, openai.InvalidRequest(param, "%s must be at least 1, got %d", param, *maxTokens)
		}
		ic.MaxTokens = maxTokens
	}
	if req.Stop != nil {
		ic.StopSequences = nil
		for _, s := range req.Stop {
			if s != "" {
				ic.StopSequences = append(ic.StopSequences, s)
			}
		}
	}
	return ic, nil
}

// additionalFields merges the deployment's provider-specific defaults with
// the request's non-OpenAI keys (the request wins): the future
// additionalModelRequestFields. The result is a fresh map the caller may
// modify, or nil.
func additionalFields(req *openai.ChatRequest, target *ChatTarget) map[string]json.RawMessage {
	if len(target.defaultExtra) == 0 && len(req.Extra) == 0 {
		return nil
	}
	fields := make(map[string]json.RawMessage, len(target.defaultExtra)+len(req.Extra))
	maps.Copy(fields, target.defaultExtra)
	for k, v := range req.Extra {
		if !gatewayParams[k] && !inferenceParams[k] && k != performanceParam {
			fields[k] = v
		}
	}
	return fields
}

// convertMessages fills out.System and out.Messages. Bedrock wants the system
// prompt apart and user/assistant turns strictly alternating, so consecutive
// turns of the same role are merged, and tool results become user turns.
func convertMessages(msgs []openai.Message, out *bedrock.ConverseRequest, toolsDeclared bool) error {
	turns := make([]bedrock.Message, 0, len(msgs))
	appendBlocks := func(role string, blocks []bedrock.ContentBlock) {
		if n := len(turns); n > 0 && turns[n-1].Role == role {
			turns[n-1].Content = append(turns[n-1].Content, blocks...)
			return
		}
		turns = append(turns, bedrock.Message{Role: role, Content: blocks})
	}

	for i, m := range msgs {
		field := fmt.Sprintf("messages[%d]", i)
		switch m.Role {
		case "system", "developer":
			blocks, err := systemBlocks(m, field)
			if err != nil {
				return err
			}
			out.System = append(out.System, blocks...)
		case "user":
			blocks, err := userBlocks(m, field)
			if err != nil {
				return err
			}
			appendBlocks("user", blocks)
		case "assistant":
			blocks, err := assistantBlocks(m, field, toolsDeclared)
			if err != nil {
				return err
			}
			if len(blocks) == 0 {
				return openai.InvalidRequest(field+".content", "%s: an assistant message needs content or tool_calls", field)
			}
			appendBlocks("assistant", blocks)
		case "tool", "function":
			block, err := toolResultBlock(m, field, toolsDeclared)
			if err != nil {
				return err
			}
			blocks, err := toolResultCachePoint([]bedrock.ContentBlock{block}, m, field)
			if err != nil {
				return err
			}
			appendBlocks("user", blocks)
		case "":
			return openai.InvalidRequest(field+".role", "%s: role is required", field)
		default:
			return openai.InvalidRequest(field+".role", "%s: unknown role %q; expected system, developer, user, assistant or tool", field, m.Role)
		}
	}
	if len(turns) == 0 {
		return openai.InvalidRequest("messages", "messages must contain at least one user or assistant message besides the system prompt")
	}
	out.Messages = turns
	return nil
}

func textBlock(s string) bedrock.ContentBlock { return bedrock.ContentBlock{Text: &s} }

func systemBlocks(m openai.Message, field string) ([]bedrock.SystemBlock, error) {
	var blocks []bedrock.SystemBlock
	if m.Content.Text != nil {
		if strings.TrimSpace(*m.Content.Text) != "" {
			blocks = append(blocks, bedrock.SystemBlock{Text: m.Content.Text})
		}
	}
	for j, p := range m.Content.Parts {
		if p.Type != "text" {
			return nil, openai.InvalidRequest(fmt.Sprintf("%s.content[%d].type", field, j),
				"%s: system messages may only contain text parts, got %q", field, p.Type)
		}
		if p.NoText {
			return nil, missingText(fmt.Sprintf("%s.content[%d]", field, j))
		}
		if strings.TrimSpace(p.Text) == "" {
			continue
		}
		text := p.Text
		blocks = append(blocks, bedrock.SystemBlock{Text: &text})
		if p.CacheControl != nil {
			cp, err := cachePointFor(p.CacheControl, fmt.Sprintf("%s.content[%d].cache_control", field, j))
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, bedrock.SystemBlock{CachePoint: cp})
		}
	}
	if m.CacheControl != nil && len(blocks) > 0 {
		cp, err := cachePointFor(m.CacheControl, field+".cache_control")
		if err != nil {
			return nil, err
		}
		blocks = append(blocks, bedrock.SystemBlock{CachePoint: cp})
	}
	return blocks, nil
}

func userBlocks(m openai.Message, field string) ([]bedrock.ContentBlock, error) {
	var blocks []bedrock.ContentBlock
	if m.Content.Text != nil {
		if strings.TrimSpace(*m.Content.Text) == "" {
			return nil, openai.InvalidRequest(field+".content", "%s: content must not be empty", field)
		}
		blocks = append(blocks, bedrock.ContentBlock{Text: m.Content.Text})
	}
	for j, p := range m.Content.Parts {
		partField := fmt.Sprintf("%s.content[%d]", field, j)
		block, err := contentPartBlock(p, partField)
		if err != nil {
			return nil, err
		}
		if block == nil {
			continue
		}
		blocks = append(blocks, *block)
		if p.CacheControl != nil {
			cp, err := cachePointFor(p.CacheControl, partField+".cache_control")
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, bedrock.ContentBlock{CachePoint: cp})
		}
	}
	if len(blocks) == 0 {
		return nil, openai.InvalidRequest(field+".content", "%s: content must not be empty", field)
	}
	return withMessageCachePoint(blocks, m, field)
}

// missingText is the error for a text part that has no text.
func missingText(field string) error {
	return openai.InvalidRequest(field+".text", "%s: a text part needs text (a string)", field)
}

// contentPartBlock converts one content part; it returns nil for parts that
// carry nothing (blank text), which Bedrock would refuse.
func contentPartBlock(p openai.ContentPart, field string) (*bedrock.ContentBlock, error) {
	switch p.Type {
	case "text":
		if p.NoText {
			return nil, missingText(field)
		}
		if strings.TrimSpace(p.Text) == "" {
			return nil, nil
		}
		b := textBlock(p.Text)
		return &b, nil
	case "image_url":
		if p.ImageURL == nil || p.ImageURL.URL == "" {
			return nil, openai.InvalidRequest(field+".image_url", "%s: image_url.url is required", field)
		}
		if f := p.ImageURL.Fetched; f != nil {
			format, ok := ImageFormat(f.MediaType, f.Data)
			if !ok {
				return nil, openai.InvalidRequest(field+".image_url.url", "%s: the image URL served %q; Bedrock takes png, jpeg, gif and webp", field, f.MediaType)
			}
			return &bedrock.ContentBlock{Image: &bedrock.ImageBlock{Format: format, Source: bedrock.ImageSource{Bytes: f.Data}}}, nil
		}
		img, err := imageBlockFromURL(p.ImageURL.URL, field)
		if err != nil {
			return nil, err
		}
		return &bedrock.ContentBlock{Image: img}, nil
	case "file":
		doc, err := documentBlockFromFile(p.File, field)
		if err != nil {
			return nil, err
		}
		return &bedrock.ContentBlock{Document: doc}, nil
	case "":
		return nil, openai.InvalidRequest(field+".type", "%s: type is required", field)
	}
	return nil, openai.InvalidRequest(field+".type", "%s: content part type %q is not supported on Bedrock chat; use text, image_url or file", field, p.Type)
}

func assistantBlocks(m openai.Message, field string, toolsDeclared bool) ([]bedrock.ContentBlock, error) {
	var blocks []bedrock.ContentBlock
	// Reasoning must come first in the turn, unmodified, or Bedrock rejects
	// the signature when the conversation continues.
	for j, tb := range m.ThinkingBlocks {
		rb, err := reasoningBlock(tb, fmt.Sprintf("%s.thinking_blocks[%d]", field, j))
		if err != nil {
			return nil, err
		}
		blocks = append(blocks, rb)
	}
	if m.Content.Text != nil && strings.TrimSpace(*m.Content.Text) != "" {
		blocks = append(blocks, bedrock.ContentBlock{Text: m.Content.Text})
	}
	for j, p := range m.Content.Parts {
		if p.Type != "text" && p.Type != "refusal" {
			return nil, openai.InvalidRequest(fmt.Sprintf("%s.content[%d].type", field, j),
				"%s: assistant messages may only contain text parts, got %q", field, p.Type)
		}
		text := p.Text
		switch {
		case p.Type == "refusal":
			// OpenAI's refusal parts carry their words under "refusal".
			if text == "" {
				text = p.Refusal
			}
		case p.NoText:
			return nil, missingText(fmt.Sprintf("%s.content[%d]", field, j))
		}
		if strings.TrimSpace(text) != "" {
			blocks = append(blocks, textBlock(text))
			if p.CacheControl != nil {
				cp, err := cachePointFor(p.CacheControl, fmt.Sprintf("%s.content[%d].cache_control", field, j))
				if err != nil {
					return nil, err
				}
				blocks = append(blocks, bedrock.ContentBlock{CachePoint: cp})
			}
		}
	}
	calls := m.ToolCalls
	if m.FunctionCall != nil {
		calls = append(calls, openai.ToolCall{ID: legacyCallID(m.FunctionCall.Name), Type: "function", Function: *m.FunctionCall})
	}
	for j, tc := range calls {
		cf := fmt.Sprintf("%s.tool_calls[%d]", field, j)
		if tc.ID == "" {
			return nil, openai.InvalidRequest(cf+".id", "%s: id is required", cf)
		}
		if tc.Function.Name == "" {
			return nil, openai.InvalidRequest(cf+".function.name", "%s: function.name is required", cf)
		}
		input, err := toolArguments(tc.Function.Arguments, cf)
		if err != nil {
			return nil, err
		}
		if !toolsDeclared {
			blocks = append(blocks, textBlock(fmt.Sprintf("[tool call %s: %s(%s)]", tc.ID, tc.Function.Name, input)))
			continue
		}
		blocks = append(blocks, bedrock.ContentBlock{ToolUse: &bedrock.ToolUseBlock{ToolUseID: tc.ID, Name: tc.Function.Name, Input: input}})
	}
	if len(blocks) == 0 {
		return nil, nil
	}
	return withMessageCachePoint(blocks, m, field)
}

// withMessageCachePoint appends the cache point a message-level
// cache_control asks for (LiteLLM's mark on string content).
func withMessageCachePoint(blocks []bedrock.ContentBlock, m openai.Message, field string) ([]bedrock.ContentBlock, error) {
	if m.CacheControl == nil {
		return blocks, nil
	}
	cp, err := cachePointFor(m.CacheControl, field+".cache_control")
	if err != nil {
		return nil, err
	}
	return append(blocks, bedrock.ContentBlock{CachePoint: cp}), nil
}

// legacyCallID gives a legacy function_call (which has no id) the id its
// function-role answer will refer to.
func legacyCallID(name string) string { return "call_" + name }

// toolArguments validates a tool call's arguments (a JSON-encoded object) and
// returns them as raw JSON; an empty string means no arguments.
func toolArguments(args, field string) (json.RawMessage, error) {
	if strings.TrimSpace(args) == "" {
		return json.RawMessage("{}"), nil
	}
	raw := json.RawMessage(args)
	if !json.Valid(raw) {
		return nil, openai.InvalidRequest(field+".function.arguments", "%s: function.arguments must be a JSON object encoded as a string", field)
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, openai.InvalidRequest(field+".function.arguments", "%s: function.arguments must encode a JSON object", field)
	}
	return trimmed, nil
}

func toolResultBlock(m openai.Message, field string, toolsDeclared bool) (bedrock.ContentBlock, error) {
	id := m.ToolCallID
	if m.Role == "function" {
		if m.Name == "" {
			return bedrock.ContentBlock{}, openai.InvalidRequest(field+".name", "%s: function messages need a name", field)
		}
		id = legacyCallID(m.Name)
	}
	if id == "" {
		return bedrock.ContentBlock{}, openai.InvalidRequest(field+".tool_call_id", "%s: tool messages need tool_call_id", field)
	}
	for j, p := range m.Content.Parts {
		partField := fmt.Sprintf("%s.content[%d]", field, j)
		if p.Type != "text" {
			return bedrock.ContentBlock{}, openai.InvalidRequest(partField+".type",
				"%s: %s messages may only contain text parts, got %q", field, m.Role, p.Type)
		}
		if p.NoText {
			return bedrock.ContentBlock{}, missingText(partField)
		}
	}
	text := m.Content.String()
	if !toolsDeclared {
		return textBlock(fmt.Sprintf("[tool result %s: %s]", id, text)), nil
	}
	var content []bedrock.ToolResultContent
	trimmed := strings.TrimSpace(text)
	switch {
	case trimmed == "":
		// Bedrock refuses blank text; an empty result is still a result.
		content = []bedrock.ToolResultContent{{Text: strPtr("(empty)")}}
	case (trimmed[0] == '{') && json.Valid([]byte(trimmed)):
		content = []bedrock.ToolResultContent{{JSON: json.RawMessage(trimmed)}}
	default:
		content = []bedrock.ToolResultContent{{Text: &text}}
	}
	return bedrock.ContentBlock{ToolResult: &bedrock.ToolResultBlock{ToolUseID: id, Content: content}}, nil
}

// toolResultCachePoint appends one cache point after a tool result whose
// message or parts carry cache_control: the parts become one result.
func toolResultCachePoint(blocks []bedrock.ContentBlock, m openai.Message, field string) ([]bedrock.ContentBlock, error) {
	var mark *bedrock.CachePointBlock
	for j, p := range m.Content.Parts {
		if p.CacheControl == nil {
			continue
		}
		cp, err := cachePointFor(p.CacheControl, fmt.Sprintf("%s.content[%d].cache_control", field, j))
		if err != nil {
			return nil, err
		}
		mark = cp
	}
	if m.CacheControl != nil {
		cp, err := cachePointFor(m.CacheControl, field+".cache_control")
		if err != nil {
			return nil, err
		}
		mark = cp
	}
	if mark != nil {
		blocks = append(blocks, bedrock.ContentBlock{CachePoint: mark})
	}
	return blocks, nil
}

func strPtr(s string) *string { return &s }

// droppedNames reports the participant names of messages: Bedrock's
// messages have a role and content only. A function message's name is
// the function's, and a tool message's repeats its tool call's: both are
// carried by the call ids, so they are not reported.
func droppedNames(msgs []openai.Message) (Dropped, bool) {
	first, n := -1, 0
	for i, m := range msgs {
		if m.Name == "" || m.Role == "function" || m.Role == "tool" {
			continue
		}
		if first < 0 {
			first = i
		}
		n++
	}
	if n == 0 {
		return Dropped{}, false
	}
	reason := "Bedrock messages carry no participant name"
	if n > 1 {
		reason += fmt.Sprintf(" (%d messages have one)", n)
	}
	return Dropped{fmt.Sprintf("messages[%d].name", first), reason}, true
}

// LogDropped writes one log line per parameter that was not forwarded.
func LogDropped(log *slog.Logger, dropped []Dropped) {
	for _, d := range dropped {
		log.Info("request parameter not sent to Bedrock", "param", d.Param, "reason", d.Reason)
	}
}

func inferenceIsZero(ic *bedrock.InferenceConfig) bool {
	return ic.MaxTokens == nil && ic.Temperature == nil && ic.TopP == nil && len(ic.StopSequences) == 0
}
