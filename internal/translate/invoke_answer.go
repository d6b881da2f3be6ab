package translate

import (
	"encoding/json"
	"fmt"

	"github.com/strata-gateway/strata/internal/bedrock"
)

// ConverseFromInvoke reads a whole native chat answer as the Converse answer
// it amounts to. Token counts Bedrock reported in headers (resp) win over
// the body's own, which some families lack.
func ConverseFromInvoke(target *InvokeTarget, resp *bedrock.InvokeResponse) (*bedrock.ConverseResponse, error) {
	out, err := target.codec.answer(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("translate: read %s answer: %w", target.Native, err)
	}
	if resp.InputTokens > 0 || resp.OutputTokens > 0 {
		out.Usage.InputTokens, out.Usage.OutputTokens = resp.InputTokens, resp.OutputTokens
	}
	out.Usage.TotalTokens = out.Usage.InputTokens + out.Usage.OutputTokens
	out.ServiceTier, out.PerformanceConfig = servedOn(resp.ServiceTier, resp.Latency)
	if out.StopReason == "" {
		out.StopReason = bedrock.StopEndTurn
	}
	return out, nil
}

// textAnswer is a Converse answer holding one text block.
func textAnswer(text, stop string, input, output int) *bedrock.ConverseResponse {
	content := []bedrock.ContentBlock{}
	if text != "" {
		content = append(content, textBlock(text))
	}
	return &bedrock.ConverseResponse{
		Output:     bedrock.ConverseOutput{Message: &bedrock.Message{Role: "assistant", Content: content}},
		StopReason: stop,
		Usage:      bedrock.TokenUsage{InputTokens: input, OutputTokens: output},
	}
}

// InvokeChatStream turns InvokeModelWithResponseStream chunks into the
// ConverseStream events ChatStream translates. It holds the stream's state:
// whether the message started and stopped, the stop reason, the usage.
type InvokeChatStream struct {
	codec   *chatCodec
	started bool
	stop    string // stop reason, once the model gave it
	stopped bool   // messageStop went out
	usage   bedrock.TokenUsage
	done    bool // metadata went out: the stream is complete
	// tier and latency are what the answer's headers said was served.
	tier    *bedrock.ServiceTier
	latency *bedrock.PerformanceConfig
	// block is the content block text goes to: 1 once reasoning took 0.
	block int
	// answering: a reasoning model is past its reasoning; trimLead: the
	// newlines that open its answer are still to be dropped.
	answering, trimLead bool
	// held ends the reasoning read so far where it could be the start of
	// the tag that closes it, split across chunks: the next chunk says.
	held string
}

// Served notes the tier and latency profile the answer's headers name,
// for the stream's last event.
func (s *InvokeChatStream) Served(tier, latency string) {
	s.tier, s.latency = servedOn(tier, latency)
}

// servedOn reads InvokeModel's served-tier headers as Converse's fields.
func servedOn(tier, latency string) (*bedrock.ServiceTier, *bedrock.PerformanceConfig) {
	var t *bedrock.ServiceTier
	var l *bedrock.PerformanceConfig
	if tier != "" {
		t = &bedrock.ServiceTier{Type: tier}
	}
	if latency != "" {
		l = &bedrock.PerformanceConfig{Latency: latency}
	}
	return t, l
}

// NewStream starts reading one stream of target's native chunks.
func (t *InvokeTarget) NewStream() *InvokeChatStream { return &InvokeChatStream{codec: t.codec} }

// invocationMetrics is what Bedrock adds to the last chunk of every
// InvokeModelWithResponseStream answer.
type invocationMetrics struct {
	Metrics *struct {
		InputTokenCount  int `json:"inputTokenCount"`
		OutputTokenCount int `json:"outputTokenCount"`
	} `json:"amazon-bedrock-invocationMetrics"`
}

// Chunk translates one native chunk into zero or more events.
func (s *InvokeChatStream) Chunk(payload []byte, yield func(*bedrock.StreamEvent) error) error {
	if s.done {
		return nil
	}
	if !s.started {
		s.started = true
		if err := yield(&bedrock.StreamEvent{MessageStart: &bedrock.MessageStartEvent{Role: "assistant"}}); err != nil {
			return err
		}
	}
	if err := s.codec.chunk(payload, s, yield); err != nil {
		return err
	}
	var m invocationMetrics
	if json.Unmarshal(payload, &m) == nil && m.Metrics != nil {
		s.usage.InputTokens, s.usage.OutputTokens = m.Metrics.InputTokenCount, m.Metrics.OutputTokenCount
		return s.finish(yield)
	}
	return nil
}

// End is called when the upstream stream ends. A stream that never gave its
// stop reason was cut short: ErrStreamTruncated.
func (s *InvokeChatStream) End(yield func(*bedrock.StreamEvent) error) error {
	if s.done {
		return nil
	}
	if s.stop == "" {
		return bedrock.ErrStreamTruncated
	}
	return s.finish(yield)
}

// Done reports whether the stream is complete.
func (s *InvokeChatStream) Done() bool { return s.done }

func (s *InvokeChatStream) text(t string, yield func(*bedrock.StreamEvent) error) error {
	if t == "" {
		return nil
	}
	return yield(&bedrock.StreamEvent{ContentBlockDelta: &bedrock.ContentBlockDeltaEvent{ContentBlockIndex: s.block, Delta: bedrock.ContentBlockDelta{Text: &t}}})
}

// stopWith records the model's stop reason and closes the message.
func (s *InvokeChatStream) stopWith(reason string, yield func(*bedrock.StreamEvent) error) error {
	if s.stopped || reason == "" {
		return nil
	}
	s.stop, s.stopped = reason, true
	return yield(&bedrock.StreamEvent{MessageStop: &bedrock.MessageStopEvent{StopReason: reason}})
}

func (s *InvokeChatStream) finish(yield func(*bedrock.StreamEvent) error) error {
	// A stream that ends inside the reasoning gives up what it held.
	held := s.held
	s.held = ""
	if err := s.reason(held, yield); err != nil {
		return err
	}
	if s.stop == "" {
		s.stop = bedrock.StopEndTurn
	}
	if err := s.stopWith(s.stop, yield); err != nil {
		return err
	}
	s.done = true
	s.usage.TotalTokens = s.usage.InputTokens + s.usage.OutputTokens
	return yield(&bedrock.StreamEvent{Metadata: &bedrock.MetadataEvent{Usage: s.usage, ServiceTier: s.tier, PerformanceConfig: s.latency}})
}

// --- Anthropic Messages API ---

var anthropicStops = map[string]string{
	"end_turn": bedrock.StopEndTurn, "stop_sequence": bedrock.StopSequence,
	"max_tokens": bedrock.StopMaxTokens, "tool_use": bedrock.StopToolUse, "refusal": bedrock.StopContentFiltered,
}

type anthropicBlock struct {
	Type      string `json:"type"`
	Text      string `json:"text"`
	Thinking  string `json:"thinking"`
	Signature string `json:"signature"`
	Data      []byte `json:"data"`
}

func anthropicAnswer(body []byte) (*bedrock.ConverseResponse, error) {
	var a struct {
		Content    []anthropicBlock `json:"content"`
		StopReason string           `json:"stop_reason"`
		Usage      struct {
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, err
	}
	out := textAnswer("", anthropicStops[a.StopReason], a.Usage.InputTokens, a.Usage.OutputTokens)
	msg := out.Output.Message
	for _, b := range a.Content {
		switch b.Type {
		case "text":
			msg.Content = append(msg.Content, textBlock(b.Text))
		case "thinking":
			msg.Content = append(msg.Content, bedrock.ContentBlock{ReasoningContent: &bedrock.ReasoningContent{
				ReasoningText: &bedrock.ReasoningText{Text: b.Thinking, Signature: b.Signature}}})
		case "redacted_thinking":
			msg.Content = append(msg.Content, bedrock.ContentBlock{ReasoningContent: &bedrock.ReasoningContent{RedactedContent: b.Data}})
		}
	}
	return out, nil
}

// anthropicChunk maps the Messages API's stream events one to one.
func anthropicChunk(payload []byte, s *InvokeChatStream, yield func(*bedrock.StreamEvent) error) error {
	var ev struct {
		Type    string `json:"type"`
		Index   int    `json:"index"`
		Message struct {
			Usage struct {
				InputTokens int `json:"input_tokens"`
			} `json:"usage"`
		} `json:"message"`
		Delta struct {
			Type       string `json:"type"`
			Text       string `json:"text"`
			Thinking   string `json:"thinking"`
			Signature  string `json:"signature"`
			StopReason string `json:"stop_reason"`
		} `json:"delta"`
		Usage struct {
			OutputTokens int `json:"output_tokens"`
		} `json:"usage"`
		Error *struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		return fmt.Errorf("translate: read anthropic stream event: %w", err)
	}
	delta := func(d bedrock.ContentBlockDelta) error {
		return yield(&bedrock.StreamEvent{ContentBlockDelta: &bedrock.ContentBlockDeltaEvent{ContentBlockIndex: ev.Index, Delta: d}})
	}
	switch ev.Type {
	case "message_start":
		s.usage.InputTokens = ev.Message.Usage.InputTokens
	case "content_block_delta":
		switch ev.Delta.Type {
		case "text_delta":
			if ev.Delta.Text == "" {
				return nil
			}
			return delta(bedrock.ContentBlockDelta{Text: &ev.Delta.Text})
		case "thinking_delta":
			return delta(bedrock.ContentBlockDelta{ReasoningContent: &bedrock.ReasoningDelta{Text: &ev.Delta.Thinking}})
		case "signature_delta":
			return delta(bedrock.ContentBlockDelta{ReasoningContent: &bedrock.ReasoningDelta{Signature: &ev.Delta.Signature}})
		}
	case "content_block_stop":
		return yield(&bedrock.StreamEvent{ContentBlockStop: &bedrock.ContentBlockStopEvent{ContentBlockIndex: ev.Index}})
	case "message_delta":
		s.usage.OutputTokens = ev.Usage.OutputTokens
		return s.stopWith(anthropicStops[ev.Delta.StopReason], yield)
	case "error":
		msg := "the model's stream failed"
		if ev.Error != nil {
			msg = ev.Error.Type + ": " + ev.Error.Message
		}
		return &bedrock.APIError{Code: "ModelStreamErrorException", Message: msg}
	}
	return nil
}

// --- Meta Llama ---

var llamaStops = map[string]string{"stop": bedrock.StopEndTurn, "length": bedrock.StopMaxTokens}

type llamaGeneration struct {
	Generation           string  `json:"generation"`
	PromptTokenCount     *int    `json:"prompt_token_count"`
	GenerationTokenCount int     `json:"generation_token_count"`
	StopReason           *string `json:"stop_reason"`
}

func llamaAnswer(body []byte) (*bedrock.ConverseResponse, error) {
	var g llamaGeneration
	if err := json.Unmarshal(body, &g); err != nil {
		return nil, err
	}
	return textAnswer(g.Generation, llamaStops[deref(g.StopReason)], deref(g.PromptTokenCount), g.GenerationTokenCount), nil
}

func llamaChunk(payload []byte, s *InvokeChatStream, yield func(*bedrock.StreamEvent) error) error {
	var g llamaGeneration
	if err := json.Unmarshal(payload, &g); err != nil {
		return fmt.Errorf("translate: read llama chunk: %w", err)
	}
	if g.PromptTokenCount != nil {
		s.usage.InputTokens = *g.PromptTokenCount
	}
	if g.GenerationTokenCount > 0 { // a running total
		s.usage.OutputTokens = g.GenerationTokenCount
	}
	if err := s.text(g.Generation, yield); err != nil {
		return err
	}
	return s.stopWith(llamaStops[deref(g.StopReason)], yield)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// --- Mistral ---

var mistralStops = map[string]string{"stop": bedrock.StopEndTurn, "length": bedrock.StopMaxTokens, "model_length": bedrock.StopMaxTokens}

type mistralOutputs struct {
	Outputs []struct {
		Text       string  `json:"text"`
		StopReason *string `json:"stop_reason"`
	} `json:"outputs"`
}

func mistralAnswer(body []byte) (*bedrock.ConverseResponse, error) {
	var m mistralOutputs
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	if len(m.Outputs) == 0 {
		return textAnswer("", bedrock.StopEndTurn, 0, 0), nil
	}
	return textAnswer(m.Outputs[0].Text, mistralStops[deref(m.Outputs[0].StopReason)], 0, 0), nil
}

func mistralChunk(payload []byte, s *InvokeChatStream, yield func(*bedrock.StreamEvent) error) error {
	var m mistralOutputs
	if err := json.Unmarshal(payload, &m); err != nil {
		return fmt.Errorf("translate: read mistral chunk: %w", err)
	}
	for _, o := range m.Outputs {
		if err := s.text(o.Text, yield); err != nil {
			return err
		}
		if err := s.stopWith(mistralStops[deref(o.StopReason)], yield); err != nil {
			return err
		}
	}
	return nil
}

// --- Amazon Titan Text ---

var titanStops = map[string]string{
	"FINISH": bedrock.StopEndTurn, "LENGTH": bedrock.StopMaxTokens, "STOP_CRITERIA_MET": bedrock.StopSequence,
	"CONTENT_FILTERED": bedrock.StopContentFiltered, "RAG_QUERY_WHEN_RAG_DISABLED": bedrock.StopEndTurn,
}

func titanTextAnswer(body []byte) (*bedrock.ConverseResponse, error) {
	var t struct {
		InputTextTokenCount int `json:"inputTextTokenCount"`
		Results             []struct {
			TokenCount       int    `json:"tokenCount"`
			OutputText       string `json:"outputText"`
			CompletionReason string `json:"completionReason"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &t); err != nil {
		return nil, err
	}
	if len(t.Results) == 0 {
		return textAnswer("", bedrock.StopEndTurn, t.InputTextTokenCount, 0), nil
	}
	r := t.Results[0]
	return textAnswer(r.OutputText, titanStops[r.CompletionReason], t.InputTextTokenCount, r.TokenCount), nil
}

func titanTextChunk(payload []byte, s *InvokeChatStream, yield func(*bedrock.StreamEvent) error) error {
	var c struct {
		OutputText                string  `json:"outputText"`
		CompletionReason          *string `json:"completionReason"`
		InputTextTokenCount       *int    `json:"inputTextTokenCount"`
		TotalOutputTextTokenCount *int    `json:"totalOutputTextTokenCount"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return fmt.Errorf("translate: read titan chunk: %w", err)
	}
	if c.InputTextTokenCount != nil {
		s.usage.InputTokens = *c.InputTextTokenCount
	}
	if c.TotalOutputTextTokenCount != nil {
		s.usage.OutputTokens = *c.TotalOutputTextTokenCount
	}
	if err := s.text(c.OutputText, yield); err != nil {
		return err
	}
	return s.stopWith(titanStops[deref(c.CompletionReason)], yield)
}

// --- Cohere Command ---

var cohereStops = map[string]string{
	"COMPLETE": bedrock.StopEndTurn, "MAX_TOKENS": bedrock.StopMaxTokens,
	"ERROR_TOXIC": bedrock.StopContentFiltered, "ERROR": bedrock.StopEndTurn, "ERROR_LIMIT": bedrock.StopMaxTokens,
}

type cohereGeneration struct {
	Text         string `json:"text"`
	FinishReason string `json:"finish_reason"`
}

func cohereCommandAnswer(body []byte) (*bedrock.ConverseResponse, error) {
	var c struct {
		Generations []cohereGeneration `json:"generations"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, err
	}
	if len(c.Generations) == 0 {
		return textAnswer("", bedrock.StopEndTurn, 0, 0), nil
	}
	g := c.Generations[0]
	return textAnswer(g.Text, cohereStops[g.FinishReason], 0, 0), nil
}

// cohereCommandChunk reads both shapes Cohere streams: {"text",
// "is_finished"} pieces with a final {"is_finished": true,
// "finish_reason"}, and whole {"generations": [...]} objects.
func cohereCommandChunk(payload []byte, s *InvokeChatStream, yield func(*bedrock.StreamEvent) error) error {
	var c struct {
		cohereGeneration
		IsFinished  bool               `json:"is_finished"`
		Generations []cohereGeneration `json:"generations"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return fmt.Errorf("translate: read cohere chunk: %w", err)
	}
	if len(c.Generations) > 0 {
		g := c.Generations[0]
		if err := s.text(g.Text, yield); err != nil {
			return err
		}
		return s.stopWith(cohereStops[g.FinishReason], yield)
	}
	if c.IsFinished {
		return s.stopWith(cohereStops[c.FinishReason], yield)
	}
	return s.text(c.Text, yield)
}

// --- AI21 Jurassic-2 ---

var jurassicStops = map[string]string{"endoftext": bedrock.StopEndTurn, "length": bedrock.StopMaxTokens, "stop": bedrock.StopSequence}

func jurassicAnswer(body []byte) (*bedrock.ConverseResponse, error) {
	var j struct {
		Prompt struct {
			Tokens []json.RawMessage `json:"tokens"`
		} `json:"prompt"`
		Completions []struct {
			Data struct {
				Text   string            `json:"text"`
				Tokens []json.RawMessage `json:"tokens"`
			} `json:"data"`
			FinishReason struct {
				Reason string `json:"reason"`
			} `json:"finishReason"`
		} `json:"completions"`
	}
	if err := json.Unmarshal(body, &j); err != nil {
		return nil, err
	}
	if len(j.Completions) == 0 {
		return textAnswer("", bedrock.StopEndTurn, len(j.Prompt.Tokens), 0), nil
	}
	c := j.Completions[0]
	return textAnswer(c.Data.Text, jurassicStops[c.FinishReason.Reason], len(j.Prompt.Tokens), len(c.Data.Tokens)), nil
}

// jurassicChunk exists for completeness: Jurassic-2 does not stream, so a
// stream is always a whole answer replayed, but a chunk holding a whole
// answer still reads right.
func jurassicChunk(payload []byte, s *InvokeChatStream, yield func(*bedrock.StreamEvent) error) error {
	a, err := jurassicAnswer(payload)
	if err != nil {
		return fmt.Errorf("translate: read jurassic-2 chunk: %w", err)
	}
	for _, b := range a.Output.Message.Content {
		if err := s.text(deref(b.Text), yield); err != nil {
			return err
		}
	}
	s.usage = a.Usage
	return s.stopWith(a.StopReason, yield)
}
