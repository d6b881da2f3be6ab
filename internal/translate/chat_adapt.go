package translate

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
)

// checkMedia refuses images and documents the model cannot read, before
// Bedrock would.
func checkMedia(msgs []bedrock.Message, caps Capabilities, model string) error {
	for i, m := range msgs {
		for _, b := range m.Content {
			switch {
			case b.Image != nil && !caps.Vision:
				return openai.InvalidRequest("messages", "Bedrock model %s does not accept images (turn %d has one)", model, i)
			case b.Document != nil && !caps.Documents:
				return openai.InvalidRequest("messages", "Bedrock model %s does not accept documents (turn %d has one)", model, i)
			}
		}
	}
	return nil
}

// mergeSystemIntoFirstUserTurn serves models without system prompts on
// Converse: the system text opens the first user turn instead. Cache points
// in the system prompt cannot follow it and are reported as dropped.
func mergeSystemIntoFirstUserTurn(out *bedrock.ConverseRequest) []Dropped {
	var texts []string
	var dropped []Dropped
	for _, b := range out.System {
		switch {
		case b.Text != nil:
			texts = append(texts, *b.Text)
		case b.CachePoint != nil:
			dropped = append(dropped, Dropped{"cache_control", "the model has no system prompt; the system text was moved into the first user turn"})
		}
	}
	out.System = nil
	if len(texts) == 0 {
		return dropped
	}
	text := strings.Join(texts, "\n\n")
	for i := range out.Messages {
		if out.Messages[i].Role == "user" {
			out.Messages[i].Content = append([]bedrock.ContentBlock{textBlock(text)}, out.Messages[i].Content...)
			return dropped
		}
	}
	// Only assistant turns: open the conversation with the system text.
	out.Messages = append([]bedrock.Message{{Role: "user", Content: []bedrock.ContentBlock{textBlock(text)}}}, out.Messages...)
	return dropped
}

// guardrailParam is the key that carries a Bedrock guardrail, in
// litellm_params or the request body, as LiteLLM names it.
const guardrailParam = "guardrailConfig"

func guardrailFromRequest(req *openai.ChatRequest, target *ChatTarget) (*bedrock.GuardrailConfig, error) {
	raw, ok := req.Extra[guardrailParam]
	if !ok {
		return target.guardrail, nil
	}
	var g bedrock.GuardrailConfig
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, openai.InvalidRequest(guardrailParam, "guardrailConfig must be an object with guardrailIdentifier and guardrailVersion: %v", err)
	}
	if g.GuardrailIdentifier == "" || g.GuardrailVersion == "" {
		return nil, openai.InvalidRequest(guardrailParam, "guardrailConfig needs guardrailIdentifier and guardrailVersion")
	}
	return &g, nil
}

func guardrailFromValue(v any) (*bedrock.GuardrailConfig, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("guardrailConfig: %w", err)
	}
	var g bedrock.GuardrailConfig
	if err := json.Unmarshal(raw, &g); err != nil || g.GuardrailIdentifier == "" || g.GuardrailVersion == "" {
		return nil, fmt.Errorf("guardrailConfig needs guardrailIdentifier and guardrailVersion")
	}
	return &g, nil
}

// ReplayAsStream turns a whole Converse answer into the stream events
// ConverseStream would have sent, so a model that cannot stream (or cannot
// stream tool use) still gives the client a correct SSE stream through the
// same translator.
func ReplayAsStream(resp *bedrock.ConverseResponse, yield func(*bedrock.StreamEvent) error) error {
	if err := yield(&bedrock.StreamEvent{MessageStart: &bedrock.MessageStartEvent{Role: "assistant"}}); err != nil {
		return err
	}
	if resp.Output.Message != nil {
		for i, b := range resp.Output.Message.Content {
			if err := replayBlock(i, b, yield); err != nil {
				return err
			}
		}
	}
	if err := yield(&bedrock.StreamEvent{MessageStop: &bedrock.MessageStopEvent{StopReason: resp.StopReason}}); err != nil {
		return err
	}
	return yield(&bedrock.StreamEvent{Metadata: &bedrock.MetadataEvent{Usage: resp.Usage, Metrics: resp.Metrics, ServiceTier: resp.ServiceTier, PerformanceConfig: resp.PerformanceConfig}})
}

func replayBlock(i int, b bedrock.ContentBlock, yield func(*bedrock.StreamEvent) error) error {
	delta := func(d bedrock.ContentBlockDelta) error {
		return yield(&bedrock.StreamEvent{ContentBlockDelta: &bedrock.ContentBlockDeltaEvent{ContentBlockIndex: i, Delta: d}})
	}
	switch {
	case b.Text != nil:
		if err := delta(bedrock.ContentBlockDelta{Text: b.Text}); err != nil {
			return err
		}
	case b.ToolUse != nil:
		start := &bedrock.ContentBlockStartEvent{ContentBlockIndex: i, Start: bedrock.ContentBlockStart{
			ToolUse: &bedrock.ToolUseStart{ToolUseID: b.ToolUse.ToolUseID, Name: b.ToolUse.Name}}}
		if err := yield(&bedrock.StreamEvent{ContentBlockStart: start}); err != nil {
			return err
		}
		if input := toolInputString(b.ToolUse.Input); input != "{}" {
			if err := delta(bedrock.ContentBlockDelta{ToolUse: &bedrock.ToolUseDelta{Input: input}}); err != nil {
				return err
			}
		}
	case b.ReasoningContent != nil && b.ReasoningContent.ReasoningText != nil:
		rt := b.ReasoningContent.ReasoningText
		if err := delta(bedrock.ContentBlockDelta{ReasoningContent: &bedrock.ReasoningDelta{Text: &rt.Text}}); err != nil {
			return err
		}
		if rt.Signature != "" {
			if err := delta(bedrock.ContentBlockDelta{ReasoningContent: &bedrock.ReasoningDelta{Signature: &rt.Signature}}); err != nil {
				return err
			}
		}
	case b.ReasoningContent != nil:
		if err := delta(bedrock.ContentBlockDelta{ReasoningContent: &bedrock.ReasoningDelta{RedactedContent: b.ReasoningContent.RedactedContent}}); err != nil {
			return err
		}
	default:
		return nil
	}
	return yield(&bedrock.StreamEvent{ContentBlockStop: &bedrock.ContentBlockStopEvent{ContentBlockIndex: i}})
}
