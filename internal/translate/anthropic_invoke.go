package translate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-gateway/strata/internal/anthropic"
	"github.com/strata-gateway/strata/internal/openai"
)

// A Messages request for a Claude deployment goes to InvokeModel with the
// client's own body: Bedrock's Claude speaks the Messages API, so keeping
// the body keeps everything the client wrote (cache_control, citations,
// thinking, server tools). What changes: model and stream move to the URL,
// anthropic_version is Bedrock's, the anthropic-beta header becomes the
// anthropic_beta key, and what the deployment's model cannot take is
// adapted or dropped (each logged), since clients such as Claude Code send
// features of Anthropic's newest model to whatever the name maps to.

// ClaudeFeatures are what a Claude model on Bedrock takes beyond the
// basic Messages API.
type ClaudeFeatures struct {
	MaxOutput         int  // max_tokens ceiling; 0: unknown, Bedrock decides
	Thinking          bool // thinking {type: enabled, budget_tokens}
	AdaptiveThinking  bool // thinking {type: adaptive}
	Effort            bool // output_config.effort
	ContextManagement bool // context_management (context editing)
}

var (
	claudeNewest = ClaudeFeatures{Thinking: true, AdaptiveThinking: true, Effort: true, ContextManagement: true}
	claude4      = ClaudeFeatures{MaxOutput: 64000, Thinking: true, ContextManagement: true}
)

// claudeFeatures is matched by prefix like modelCapabilities; a Claude the
// table does not know is taken to be newer than it and gets everything.
var claudeFeatures = []prefixRow[ClaudeFeatures]{
	{"anthropic.claude-opus-4-6", ClaudeFeatures{MaxOutput: 128000, Thinking: true, AdaptiveThinking: true, Effort: true, ContextManagement: true}},
	{"anthropic.claude-opus-4-5", ClaudeFeatures{MaxOutput: 64000, Thinking: true, Effort: true, ContextManagement: true}},
	{"anthropic.claude-opus-4-1", ClaudeFeatures{MaxOutput: 32000, Thinking: true, ContextManagement: true}},
	{"anthropic.claude-opus-4", ClaudeFeatures{MaxOutput: 32000, Thinking: true, ContextManagement: true}},
	{"anthropic.claude-sonnet-4", claude4},
	{"anthropic.claude-haiku-4", claude4},
	{"anthropic.claude-3-7-sonnet", ClaudeFeatures{MaxOutput: 64000, Thinking: true}},
	{"anthropic.claude-3-5", ClaudeFeatures{MaxOutput: 8192}},
	{"anthropic.claude-3", ClaudeFeatures{MaxOutput: 4096}},
	{"anthropic.claude-v2", ClaudeFeatures{MaxOutput: 4096}},
	{"anthropic.claude-instant", ClaudeFeatures{MaxOutput: 4096}},
}

// IsClaude reports whether model is one of Anthropic's on Bedrock, which
// takes Messages requests natively on InvokeModel.
func IsClaude(model string) bool { return strings.HasPrefix(baseModelID(model), "anthropic.") }

// ClaudeFeaturesOf returns what a Claude model takes.
func ClaudeFeaturesOf(model string) ClaudeFeatures {
	if f, ok := byPrefix(claudeFeatures, model); ok {
		return f
	}
	return claudeNewest
}

// BedrockAnthropicVersion is the anthropic_version InvokeModel requires.
const BedrockAnthropicVersion = "bedrock-2023-05-31"

// bedrockBetas are the anthropic-beta values Bedrock's Claude accepts;
// others (Claude Code's own, OAuth's) are refused there, so they are dropped.
var bedrockBetas = map[string]bool{
	"computer-use-2024-10-22":          true,
	"computer-use-2025-01-24":          true,
	"computer-use-2025-11-24":          true,
	"token-efficient-tools-2025-02-19": true,
	"interleaved-thinking-2025-05-14":  true,
	"output-128k-2025-02-19":           true,
	"dev-full-thinking-2025-05-14":     true,
	"context-1m-2025-08-07":            true,
	"context-management-2025-06-27":    true,
	"effort-2025-11-24":                true,
	"tool-search-tool-2025-10-19":      true,
	"tool-examples-2025-10-29":         true,
}

// requestOnlyKeys steer Strata and are never part of the model's body.
var requestOnlyKeys = []string{"model", "stream", "num_retries", "timeout", "stream_timeout", "fallbacks", "anthropic_version"}

// InvokeMessagesCall is a Messages request ready for InvokeModel.
type InvokeMessagesCall struct {
	Body    []byte
	Dropped []Dropped
}

// InvokeFromMessages builds the InvokeModel body for a Claude deployment
// of model. betas is the anthropic-beta header's values. When rewrite is
// fetched holds the images and documents the gateway downloaded, by URL:
// Bedrock takes no URL sources, so those become base64 sources.
//
// The deployment's default parameters (litellm_params temperature, top_p,
// stop, top_k ...) fill what the request leaves unset, as on chat.
func InvokeFromMessages(req *anthropic.MessagesRequest, betas []string, target *ChatTarget, fetched map[string]*anthropic.Source) (*InvokeMessagesCall, error) {
	if err := checkMessages(req); err != nil {
		return nil, err
	}
	model := target.Model
	feat := ClaudeFeaturesOf(model)
	call := &InvokeMessagesCall{}
	drop := func(param, reason string) { call.Dropped = append(call.Dropped, Dropped{Param: param, Reason: reason}) }
	body := make(map[string]json.RawMessage, len(req.Raw)+2)
	for k, v := range req.Raw {
		body[k] = v
	}
	for _, k := range requestOnlyKeys {
		delete(body, k)
	}
	body["anthropic_version"] = json.RawMessage(strconv.Quote(BedrockAnthropicVersion))

	if n := trailingSystem(req.Messages); n > 0 || len(fetched) > 0 {
		var msgs []json.RawMessage
		if err := json.Unmarshal(req.Raw["messages"], &msgs); err != nil || len(msgs) != len(req.Messages) {
			return nil, openai.InvalidRequest("messages", "messages must be a list of messages")
		}
		if n > 0 {
			// Anthropic's newest models take a system turn inside messages;
			// Bedrock takes system text only at the top.
			system := rawSystemBlocks(req.Raw["system"])
			for _, m := range msgs[len(msgs)-n:] {
				var turn struct {
					Content json.RawMessage `json:"content"`
				}
				_ = json.Unmarshal(m, &turn)
				system = append(system, rawSystemBlocks(turn.Content)...)
			}
			msgs = msgs[:len(msgs)-n]
			body["system"] = mustJSON(system)
			drop(`messages[].role "system"`, "moved into system: Bedrock takes system text only at the top of the request")
		}
		if len(fetched) > 0 {
			for i, m := range msgs {
				msgs[i] = withFetchedSources(m, fetched)
			}
		}
		body["messages"] = mustJSON(msgs)
	}

	if feat.MaxOutput > 0 && req.MaxTokens > feat.MaxOutput {
		drop("max_tokens", fmt.Sprintf("%d is above %s's limit; sent as %d", req.MaxTokens, baseModelID(model), feat.MaxOutput))
		body["max_tokens"] = json.RawMessage(strconv.Itoa(feat.MaxOutput))
	}
	maxTokens := req.MaxTokens
	if feat.MaxOutput > 0 {
		maxTokens = min(maxTokens, feat.MaxOutput)
	}
	if req.Thinking != nil {
		adaptThinking(req, feat, maxTokens, body, drop)
	}
	if raw, ok := body["output_config"]; ok && !feat.Effort {
		if cfg, changed := withoutKey(raw, "effort"); changed {
			drop("output_config.effort", baseModelID(model)+" does not take an effort setting")
			if cfg == nil {
				delete(body, "output_config")
			} else {
				body["output_config"] = cfg
			}
		}
	}
	if _, ok := body["context_management"]; ok && !feat.ContextManagement {
		drop("context_management", baseModelID(model)+" does not take context management")
		delete(body, "context_management")
	}

	if err := fitInvokeCacheControl(body, model, drop); err != nil {
		return nil, err
	}
	applyMessagesDefaults(body, target)

	all := betas
	if raw, ok := body["anthropic_beta"]; ok {
		var inBody []string
		if err := json.Unmarshal(raw, &inBody); err != nil {
			return nil, openai.InvalidRequest("anthropic_beta", "anthropic_beta must be a list of strings")
		}
		all = append(slices.Clone(betas), inBody...)
		delete(body, "anthropic_beta")
	}
	if kept := bedrockBetaList(all, feat, drop); len(kept) > 0 {
		body["anthropic_beta"] = mustJSON(kept)
	}
	raw, err := marshalSorted(body)
	if err != nil {
		return nil, err
	}
	call.Body = raw
	return call, nil
}

// adaptThinking turns thinking into what the model takes: adaptive becomes
// a budget on models with budgets only, and a model without extended
// thinking gets none.
func adaptThinking(req *anthropic.MessagesRequest, feat ClaudeFeatures, maxTokens int, body map[string]json.RawMessage, drop func(string, string)) {
	switch req.Thinking.Type {
	case "adaptive":
		if feat.AdaptiveThinking {
			return
		}
		if !feat.Thinking {
			delete(body, "thinking")
			drop("thinking", "the model has no extended thinking")
			return
		}
		// A budget must be at least 1024 tokens and below max_tokens.
		budget := maxTokens * 3 / 4
		if budget < 1024 || budget >= maxTokens {
			delete(body, "thinking")
			drop("thinking", "adaptive thinking needs max_tokens above 1024 on a model with thinking budgets")
			return
		}
		body["thinking"] = mustJSON(anthropic.Thinking{Type: "enabled", BudgetTokens: budget})
		drop("thinking.type", fmt.Sprintf("adaptive thinking sent as a budget of %d tokens: the model takes budgets only", budget))
	case "enabled":
		switch budget := maxTokens * 3 / 4; {
		case !feat.Thinking:
			delete(body, "thinking")
			drop("thinking", "the model has no extended thinking")
		case req.Thinking.BudgetTokens >= maxTokens && budget >= 1024:
			body["thinking"] = mustJSON(anthropic.Thinking{Type: "enabled", BudgetTokens: budget})
			drop("thinking.budget_tokens", fmt.Sprintf("%d is not below max_tokens %d; sent as %d", req.Thinking.BudgetTokens, maxTokens, budget))
		}
	}
}

// applyMessagesDefaults sets the deployment's defaults the body lacks.
// Sampling defaults stay out of a request with thinking on, which Claude
// takes only at temperature 1.
func applyMessagesDefaults(body map[string]json.RawMessage, target *ChatTarget) {
	_, thinking := body["thinking"]
	set := func(key string, v any) {
		if _, ok := body[key]; ok || thinking && (key == "temperature" || key == "top_p" || key == "top_k") {
			return
		}
		body[key] = mustJSON(v)
	}
	ic := target.defaultInference
	if ic.Temperature != nil {
		set("temperature", *ic.Temperature)
	}
	if ic.TopP != nil {
		set("top_p", *ic.TopP)
	}
	if len(ic.StopSequences) > 0 {
		set("stop_sequences", ic.StopSequences)
	}
	for _, k := range slices.Sorted(maps.Keys(target.defaultExtra)) {
		set(k, target.defaultExtra[k])
	}
}

// bedrockBetaList keeps the betas Bedrock takes, once each, in order.
func bedrockBetaList(betas []string, feat ClaudeFeatures, drop func(string, string)) []string {
	var kept []string
	for _, b := range betas {
		b = strings.TrimSpace(b)
		switch {
		case b == "" || slices.Contains(kept, b):
		case !bedrockBetas[b]:
			drop("anthropic-beta "+b, "not a beta Bedrock takes")
		case b == "effort-2025-11-24" && !feat.Effort, b == "context-management-2025-06-27" && !feat.ContextManagement,
			(b == "interleaved-thinking-2025-05-14" || b == "dev-full-thinking-2025-05-14") && !feat.Thinking:
			drop("anthropic-beta "+b, "the model does not take this feature")
		default:
			kept = append(kept, b)
		}
	}
	return kept
}

// trailingSystem counts the system turns at the end of messages.
func trailingSystem(msgs []anthropic.Message) int {
	n := 0
	for i := len(msgs) - 1; i >= 0 && msgs[i].Role == "system"; i-- {
		n++
	}
	return n
}

// rawSystemBlocks reads a system value (a string or blocks) as raw blocks.
func rawSystemBlocks(raw json.RawMessage) []json.RawMessage {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		if text == "" {
			return nil
		}
		return []json.RawMessage{mustJSON(anthropic.ContentBlock{Type: "text", Text: text})}
	}
	var blocks []json.RawMessage
	_ = json.Unmarshal(raw, &blocks)
	return blocks
}

// withFetchedSources swaps the URL sources of one message's blocks (tool
// results' included) for the downloaded data.
func withFetchedSources(msg json.RawMessage, fetched map[string]*anthropic.Source) json.RawMessage {
	var m any
	if json.Unmarshal(msg, &m) != nil {
		return msg
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			if src, ok := x["source"].(map[string]any); ok && src["type"] == "url" {
				if u, _ := src["url"].(string); fetched[u] != nil {
					x["source"] = fetched[u]
				}
			}
			walk(x["content"])
		}
	}
	walk(m)
	return mustJSON(m)
}

// withoutKey removes key from a JSON object; nil if nothing is left.
func withoutKey(raw json.RawMessage, key string) (json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return raw, false
	}
	if _, ok := m[key]; !ok {
		return raw, false
	}
	delete(m, key)
	if len(m) == 0 {
		return nil, true
	}
	return mustJSON(m), true
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("translate: encode %T: %v", v, err))
	}
	return b
}

// marshalSorted encodes a body with its keys sorted (as encoding/json
// writes maps) and HTML characters unescaped.
func marshalSorted(m map[string]json.RawMessage) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("translate: encode invoke body: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// checkMessages refuses what no model can take, with Anthropic's wording
// where it has one.
func checkMessages(req *anthropic.MessagesRequest) error {
	if req.MaxTokens <= 0 {
		return openai.InvalidRequest("max_tokens", "max_tokens: Field required (a whole number >= 1)")
	}
	if len(req.Messages) == 0 {
		return openai.InvalidRequest("messages", "messages: Field required (at least one message)")
	}
	for i, m := range req.Messages {
		switch m.Role {
		case "user", "assistant":
		case "system":
			if i < len(req.Messages)-trailingSystem(req.Messages) {
				return openai.InvalidRequest("messages", "messages.%d.role: a system turn may only come after the conversation; put system text in the top-level system", i)
			}
		default:
			return openai.InvalidRequest("messages", "messages.%d.role: Input should be 'user' or 'assistant'", i)
		}
	}
	return nil
}

// ClaudeAnswer reads the usage of an InvokeModel answer; the answer
// itself goes to the client as Bedrock wrote it.
func ClaudeAnswer(body []byte) (anthropic.Usage, error) {
	var m struct {
		Type  string          `json:"type"`
		Usage anthropic.Usage `json:"usage"`
	}
	if err := json.Unmarshal(body, &m); err != nil || m.Type != "message" {
		return anthropic.Usage{}, fmt.Errorf("translate: Bedrock's answer is not an Anthropic message: %.200s", body)
	}
	return m.Usage, nil
}

// ClaudeStream reads the chunks of InvokeModelWithResponseStream on a
// Claude model, each an Anthropic stream event, and hands them on as such,
// keeping count of the usage.
type ClaudeStream struct {
	Usage anthropic.Usage
	done  bool
}

// Done reports whether message_stop went by.
func (s *ClaudeStream) Done() bool { return s.done }

// metricsKey is what Bedrock adds to the last chunk of a stream.
const metricsKey = "amazon-bedrock-invocationMetrics"

// Event turns one chunk into the event for the client: the same JSON,
// without Bedrock's invocation metrics.
func (s *ClaudeStream) Event(chunk []byte) (anthropic.Event, error) {
	var head struct {
		Type    string `json:"type"`
		Message *struct {
			Usage anthropic.Usage `json:"usage"`
		} `json:"message"`
		Usage *anthropic.DeltaUsage `json:"usage"`
	}
	if err := json.Unmarshal(chunk, &head); err != nil || head.Type == "" {
		return anthropic.Event{}, fmt.Errorf("translate: a stream chunk is not an Anthropic event: %.200s", chunk)
	}
	switch head.Type {
	case anthropic.EventMessageStart:
		if head.Message != nil {
			s.Usage = head.Message.Usage
		}
	case anthropic.EventMessageDelta:
		if u := head.Usage; u != nil {
			s.Usage.OutputTokens = u.OutputTokens
			if u.InputTokens != nil {
				s.Usage.InputTokens = *u.InputTokens
			}
			if u.CacheReadInputTokens != nil {
				s.Usage.CacheReadInputTokens = *u.CacheReadInputTokens
			}
			if u.CacheCreationInputTokens != nil {
				s.Usage.CacheCreationInputTokens = *u.CacheCreationInputTokens
			}
		}
	case anthropic.EventMessageStop:
		s.done = true
	}
	if bytes.Contains(chunk, []byte(metricsKey)) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(chunk, &m); err == nil {
			delete(m, metricsKey)
			if b, err := marshalSorted(m); err == nil {
				chunk = b
			}
		}
	}
	return anthropic.Event{Type: head.Type, Data: chunk}, nil
}
