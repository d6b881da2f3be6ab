package translate

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/strata-gateway/strata/internal/bedrock"
)

// Custom Model Import: an imported model takes the InvokeModel body of its
// architecture, which the config names by LiteLLM's route prefix. Llama
// takes Meta's Llama 3 prompt (NativeLlama3); DeepSeek-R1 and Qwen3 take
// their own prompt templates in the same {"prompt", "max_gen_len"} body
// and answer as Llama does ({"generation", ...}); "openai" takes OpenAI's
// chat completion body and answers with OpenAI's completion and chunks.

// deepseekR1Prompt is DeepSeek-R1's chat template. It ends with the
// assistant's turn opened on "<think>", so the model reasons first.
func deepseekR1Prompt(c *conversation) string {
	var b strings.Builder
	b.WriteString("<｜begin▁of▁sentence｜>" + c.system)
	for i, t := range c.turns {
		if t.role == "user" {
			b.WriteString("<｜User｜>" + t.text)
			continue
		}
		b.WriteString("<｜Assistant｜>" + t.text)
		if i == len(c.turns)-1 {
			return b.String()
		}
		b.WriteString("<｜end▁of▁sentence｜>")
	}
	b.WriteString("<｜Assistant｜><think>\n")
	return b.String()
}

// qwen3Prompt is Qwen's ChatML: one <|im_start|>role ... <|im_end|> block
// per turn, then the assistant's opened.
func qwen3Prompt(c *conversation) string {
	var parts []string
	if c.system != "" {
		parts = append(parts, "<|im_start|>system\n"+c.system+"<|im_end|>")
	}
	for i, t := range c.turns {
		if i == len(c.turns)-1 && t.role == "assistant" {
			parts = append(parts, "<|im_start|>assistant\n"+t.text)
			return strings.Join(parts, "\n")
		}
		parts = append(parts, "<|im_start|>"+t.role+"\n"+t.text+"<|im_end|>")
	}
	parts = append(parts, "<|im_start|>assistant\n")
	return strings.Join(parts, "\n")
}

func qwen3Body(c *conversation, ic *bedrock.InferenceConfig, _ bool) (map[string]any, error) {
	body := map[string]any{"prompt": qwen3Prompt(c)}
	setSampling(body, ic, samplingKeys{"max_gen_len", "temperature", "top_p", "stop"})
	return body, nil
}

func qwen3Answer(body []byte) (*bedrock.ConverseResponse, error) {
	out, err := llamaAnswer(body)
	if err != nil {
		return nil, err
	}
	if msg := out.Output.Message; msg != nil && len(msg.Content) == 1 && msg.Content[0].Text != nil {
		text := strings.TrimSuffix(strings.TrimPrefix(*msg.Content[0].Text, "<|im_start|>assistant\n"), "<|im_end|>")
		msg.Content[0].Text = &text
	}
	return out, nil
}

// thinkEnd closes DeepSeek-R1's reasoning; what follows is the answer.
const thinkEnd = "</think>"

// deepseekR1Answer splits the generation at </think>: the reasoning
// before it, the answer after it.
func deepseekR1Answer(body []byte) (*bedrock.ConverseResponse, error) {
	out, err := llamaAnswer(body)
	if err != nil {
		return nil, err
	}
	msg := out.Output.Message
	if msg == nil || len(msg.Content) != 1 || msg.Content[0].Text == nil {
		return out, nil
	}
	reasoning, answer, found := strings.Cut(*msg.Content[0].Text, thinkEnd)
	if !found {
		return out, nil
	}
	msg.Content = []bedrock.ContentBlock{{ReasoningContent: &bedrock.ReasoningContent{ReasoningText: &bedrock.ReasoningText{Text: strings.TrimSpace(reasoning)}}}}
	if answer = strings.TrimLeft(answer, "\n"); answer != "" {
		msg.Content = append(msg.Content, textBlock(answer))
	}
	return out, nil
}

// deepseekR1Chunk streams the reasoning (content block 0) until
// </think>, and the answer after it (content block 1).
func deepseekR1Chunk(payload []byte, s *InvokeChatStream, yield func(*bedrock.StreamEvent) error) error {
	var g llamaGeneration
	if err := json.Unmarshal(payload, &g); err != nil {
		return fmt.Errorf("translate: read deepseek-r1 chunk: %w", err)
	}
	if g.PromptTokenCount != nil {
		s.usage.InputTokens = *g.PromptTokenCount
	}
	if g.GenerationTokenCount > 0 {
		s.usage.OutputTokens = g.GenerationTokenCount
	}
	stop := llamaStops[deref(g.StopReason)]
	text := g.Generation
	if !s.answering {
		reasoning, answer, found := strings.Cut(s.held+text, thinkEnd)
		s.held = ""
		if !found && stop == "" {
			// The tag may be split across chunks: hold what could start it.
			n := len(reasoning) - partialSuffix(reasoning, thinkEnd)
			reasoning, s.held = reasoning[:n], reasoning[n:]
		}
		if err := s.reason(reasoning, yield); err != nil {
			return err
		}
		if !found {
			return s.stopWith(stop, yield)
		}
		s.answering, s.block, s.trimLead = true, 1, true
		text = answer
	}
	if s.trimLead {
		text = strings.TrimLeft(text, "\n")
		s.trimLead = text == ""
	}
	if err := s.text(text, yield); err != nil {
		return err
	}
	return s.stopWith(stop, yield)
}

// reason streams text as reasoning (content block 0).
func (s *InvokeChatStream) reason(text string, yield func(*bedrock.StreamEvent) error) error {
	if text == "" {
		return nil
	}
	return yield(&bedrock.StreamEvent{ContentBlockDelta: &bedrock.ContentBlockDeltaEvent{
		Delta: bedrock.ContentBlockDelta{ReasoningContent: &bedrock.ReasoningDelta{Text: &text}}}})
}

// partialSuffix is the length of the longest end of s that is a proper
// start of tag.
func partialSuffix(s, tag string) int {
	for n := min(len(s), len(tag)-1); n > 0; n-- {
		if strings.HasSuffix(s, tag[:n]) {
			return n
		}
	}
	return 0
}

// --- OpenAI's chat format ---

var openAIStops = map[string]string{"stop": bedrock.StopEndTurn, "length": bedrock.StopMaxTokens, "content_filter": bedrock.StopContentFiltered}

// openAIChatBody is OpenAI's chat completion request: the system prompt
// and turns as messages of text.
func openAIChatBody(c *conversation, ic *bedrock.InferenceConfig, _ bool) (map[string]any, error) {
	var msgs []map[string]any
	if c.system != "" {
		msgs = append(msgs, map[string]any{"role": "system", "content": c.system})
	}
	for _, t := range c.turns {
		msgs = append(msgs, map[string]any{"role": t.role, "content": t.text})
	}
	body := map[string]any{"messages": msgs}
	setSampling(body, ic, samplingKeys{"max_tokens", "temperature", "top_p", "stop"})
	return body, nil
}

type openAIChoice struct {
	Message struct {
		Content          string `json:"content"`
		ReasoningContent string `json:"reasoning_content"`
	} `json:"message"`
	Delta struct {
		Content          string `json:"content"`
		ReasoningContent string `json:"reasoning_content"`
	} `json:"delta"`
	FinishReason *string `json:"finish_reason"`
}

type openAIAnswer struct {
	Choices []openAIChoice `json:"choices"`
	Usage   *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

func openAIChatAnswer(body []byte) (*bedrock.ConverseResponse, error) {
	var a openAIAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, err
	}
	if len(a.Choices) == 0 {
		return nil, fmt.Errorf("the answer has no choices")
	}
	ch := a.Choices[0]
	out := textAnswer(ch.Message.Content, openAIStops[deref(ch.FinishReason)], 0, 0)
	if ch.Message.ReasoningContent != "" {
		msg := out.Output.Message
		msg.Content = append([]bedrock.ContentBlock{{ReasoningContent: &bedrock.ReasoningContent{ReasoningText: &bedrock.ReasoningText{Text: ch.Message.ReasoningContent}}}}, msg.Content...)
	}
	if a.Usage != nil {
		out.Usage.InputTokens, out.Usage.OutputTokens = a.Usage.PromptTokens, a.Usage.CompletionTokens
	}
	return out, nil
}

func openAIChatChunk(payload []byte, s *InvokeChatStream, yield func(*bedrock.StreamEvent) error) error {
	var a openAIAnswer
	if err := json.Unmarshal(payload, &a); err != nil {
		return fmt.Errorf("translate: read openai chunk: %w", err)
	}
	if a.Usage != nil {
		s.usage.InputTokens, s.usage.OutputTokens = a.Usage.PromptTokens, a.Usage.CompletionTokens
	}
	if len(a.Choices) == 0 {
		return nil
	}
	ch := a.Choices[0]
	if r := ch.Delta.ReasoningContent; r != "" {
		if err := yield(&bedrock.StreamEvent{ContentBlockDelta: &bedrock.ContentBlockDeltaEvent{
			Delta: bedrock.ContentBlockDelta{ReasoningContent: &bedrock.ReasoningDelta{Text: &r}}}}); err != nil {
			return err
		}
		s.block = 1
	}
	if err := s.text(ch.Delta.Content, yield); err != nil {
		return err
	}
	return s.stopWith(openAIStops[deref(ch.FinishReason)], yield)
}
