package translate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
)

// AnswerShape says how to read an answer: whether a tool carries the
// structured output the client asked for, and which tools the client did
// not offer in this turn.
type AnswerShape struct {
	JSONTool    string
	JSONWrapped bool
	// Withheld names tools declared only to carry the history's tool
	// calls. A call to one is left out of the answer: the client did not
	// offer the tool, so it is not the client's to run.
	Withheld []string
}

// withholds reports whether a call to the named tool is left out.
func (a *AnswerShape) withholds(name string) bool { return slices.Contains(a.Withheld, name) }

// WithheldCalls names the calls of resp that the answer leaves out, for
// the gateway's log.
func WithheldCalls(resp *bedrock.ConverseResponse, shape AnswerShape) []string {
	var names []string
	if len(shape.Withheld) == 0 || resp.Output.Message == nil {
		return nil
	}
	for _, b := range resp.Output.Message.Content {
		if b.ToolUse != nil && shape.withholds(b.ToolUse.Name) {
			names = append(names, b.ToolUse.Name)
		}
	}
	return names
}

// ResponseMeta is what the gateway stamps on every answer.
type ResponseMeta struct {
	ID      string // "chatcmpl-..."
	Created int64  // unix seconds
	Model   string // the model name reported to the client
	Answer  AnswerShape
}

// FinishReason maps a Bedrock stopReason to OpenAI's finish_reason.
// toolCalls reports whether the answer carries tool calls: some models end
// a tool-calling turn with end_turn, and clients look for "tool_calls".
func FinishReason(stopReason string, toolCalls bool) string {
	switch stopReason {
	case bedrock.StopMaxTokens, bedrock.StopModelContextWindowExceeded:
		return "length"
	case bedrock.StopGuardrailIntervened, bedrock.StopContentFiltered:
		return "content_filter"
	}
	if toolCalls {
		return "tool_calls"
	}
	return "stop"
}

// UsageFromBedrock maps token usage. OpenAI's prompt_tokens counts every
// input token, cached or not; Bedrock's inputTokens excludes cache reads and
// writes, so they are added back and reported apart as well.
func UsageFromBedrock(u bedrock.TokenUsage) *openai.Usage {
	prompt := u.InputTokens + u.CacheReadInputTokens + u.CacheWriteInputTokens
	return &openai.Usage{
		PromptTokens:             prompt,
		CompletionTokens:         u.OutputTokens,
		TotalTokens:              prompt + u.OutputTokens,
		PromptTokensDetails:      &openai.PromptTokensDetails{CachedTokens: u.CacheReadInputTokens},
		CacheReadInputTokens:     u.CacheReadInputTokens,
		CacheCreationInputTokens: u.CacheWriteInputTokens,
	}
}

// ChatFromConverse turns a Converse answer into a chat.completion. Every
// block Bedrock returned is kept: text, tool calls (whatever the stop
// reason), reasoning.
func ChatFromConverse(resp *bedrock.ConverseResponse, meta ResponseMeta) *openai.ChatCompletion {
	msg := openai.ResponseMessage{Role: "assistant"}
	var text, reasoning strings.Builder
	var structured []byte
	if resp.Output.Message != nil {
		for _, b := range resp.Output.Message.Content {
			switch {
			case b.Text != nil:
				text.WriteString(*b.Text)
			case b.ToolUse != nil && meta.Answer.JSONTool != "" && b.ToolUse.Name == meta.Answer.JSONTool:
				structured = structuredContent(b.ToolUse.Input, meta.Answer.JSONWrapped)
			case b.ToolUse != nil && meta.Answer.withholds(b.ToolUse.Name):
				// Not offered in this turn: the answer is its text alone.
			case b.ToolUse != nil:
				msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{
					ID: b.ToolUse.ToolUseID, Type: "function",
					Function: openai.FunctionCall{Name: b.ToolUse.Name, Arguments: toolInputString(b.ToolUse.Input)},
				})
			case b.ReasoningContent != nil:
				rc := b.ReasoningContent
				if rc.ReasoningText != nil {
					reasoning.WriteString(rc.ReasoningText.Text)
					msg.ThinkingBlocks = append(msg.ThinkingBlocks, openai.ThinkingBlock{Type: "thinking", Thinking: rc.ReasoningText.Text, Signature: rc.ReasoningText.Signature})
				} else if rc.RedactedContent != nil {
					msg.ThinkingBlocks = append(msg.ThinkingBlocks, openai.ThinkingBlock{Type: "redacted_thinking", Data: base64.StdEncoding.EncodeToString(rc.RedactedContent)})
				}
			}
		}
	}
	switch {
	case structured != nil:
		// The structured answer is the content; free text around the
		// forced tool call is commentary the client did not ask for.
		s := string(structured)
		msg.Content = &s
	case text.Len() > 0 || len(msg.ToolCalls) == 0:
		s := text.String()
		msg.Content = &s
	}
	if reasoning.Len() > 0 {
		r := reasoning.String()
		msg.ReasoningContent = &r
	}
	return &openai.ChatCompletion{
		ID:      meta.ID,
		Object:  "chat.completion",
		Created: meta.Created,
		Model:   meta.Model,
		Choices: []openai.Choice{{
			Index:        0,
			Message:      msg,
			FinishReason: FinishReason(resp.StopReason, len(msg.ToolCalls) > 0),
		}},
		Usage:       UsageFromBedrock(resp.Usage),
		ServiceTier: servedTier(resp.ServiceTier),
	}
}

// toolInputString renders a tool call's input as the JSON string OpenAI
// clients expect in function.arguments.
func toolInputString(input json.RawMessage) string {
	input = bytes.TrimSpace(input)
	if len(input) == 0 || string(input) == "null" {
		return "{}"
	}
	return string(input)
}

// structuredContent is the structured-output tool's input as the answer's
// content, unwrapped from {"value": ...} when the schema was wrapped.
func structuredContent(input json.RawMessage, wrapped bool) []byte {
	if wrapped {
		var w struct {
			Value json.RawMessage `json:"value"`
		}
		if json.Unmarshal(input, &w) == nil && w.Value != nil {
			return w.Value
		}
	}
	return []byte(toolInputString(input))
}
