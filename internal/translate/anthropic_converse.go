package translate

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/strata-gateway/strata/internal/anthropic"
	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
)

// A Messages request for a model that is not Claude goes through Converse,
// so one Anthropic-speaking tool can use any chat model. What only Claude
// understands (thinking settings, betas, context management) is dropped
// with a reason, and so are cache points on a model without caching; what the model
// cannot take at all (images, tools) is refused as chat refuses it.

// ConverseFromMessages translates a Messages request for target's model.
func ConverseFromMessages(req *anthropic.MessagesRequest, target *ChatTarget) (*ConverseCall, error) {
	if err := checkMessages(req); err != nil {
		return nil, err
	}
	caps := target.Caps
	call := &ConverseCall{}
	drop := func(param, reason string) { call.Dropped = append(call.Dropped, Dropped{Param: param, Reason: reason}) }
	out := &bedrock.ConverseRequest{}
	call.Request = out

	msgs := req.Messages
	system := req.System
	if n := trailingSystem(msgs); n > 0 {
		for _, m := range msgs[len(msgs)-n:] {
			system = append(system, m.Content...)
		}
		msgs = msgs[:len(msgs)-n]
	}
	for i, b := range system {
		if b.Type != "text" {
			return nil, openai.InvalidRequest("system", "system.%d: only text blocks may be in system, got %q", i, b.Type)
		}
		out.System = append(out.System, bedrock.SystemBlock{Text: strPtr(b.Text)})
		if len(b.CacheControl) > 0 {
			cp, err := rawCachePoint(b.CacheControl, fmt.Sprintf("system.%d.cache_control", i))
			if err != nil {
				return nil, err
			}
			out.System = append(out.System, bedrock.SystemBlock{CachePoint: cp})
		}
	}
	for i, m := range msgs {
		blocks, err := converseBlocks(m.Content, fmt.Sprintf("messages.%d.content", i))
		if err != nil {
			return nil, err
		}
		if len(blocks) == 0 {
			return nil, openai.InvalidRequest("messages", "messages.%d: content must not be empty", i)
		}
		if n := len(out.Messages); n > 0 && out.Messages[n-1].Role == m.Role {
			out.Messages[n-1].Content = append(out.Messages[n-1].Content, blocks...)
			continue
		}
		out.Messages = append(out.Messages, bedrock.Message{Role: m.Role, Content: blocks})
	}

	if len(req.Tools) > 0 && (req.ToolChoice == nil || req.ToolChoice.Type != "none") {
		cfg := &bedrock.ToolConfig{}
		for i, t := range req.Tools {
			if t.Type != "" && t.Type != "custom" {
				return nil, openai.InvalidRequest("tools", "tools.%d: %s is a tool Anthropic runs; Bedrock model %s takes only tools with an input_schema", i, t.Type, target.Model)
			}
			schema := t.InputSchema
			if len(schema) == 0 {
				schema = json.RawMessage(`{"type":"object"}`)
			}
			cfg.Tools = append(cfg.Tools, bedrock.Tool{ToolSpec: &bedrock.ToolSpec{Name: t.Name, Description: t.Description, InputSchema: bedrock.ToolInputSchema{JSON: schema}}})
			if len(t.CacheControl) > 0 {
				cp, err := rawCachePoint(t.CacheControl, fmt.Sprintf("tools.%d.cache_control", i))
				if err != nil {
					return nil, err
				}
				cfg.Tools = append(cfg.Tools, bedrock.Tool{CachePoint: cp})
			}
		}
		if tc := req.ToolChoice; tc != nil {
			switch tc.Type {
			case "auto":
				cfg.ToolChoice = &bedrock.ToolChoice{Auto: &struct{}{}}
			case "any":
				cfg.ToolChoice = &bedrock.ToolChoice{Any: &struct{}{}}
			case "tool":
				cfg.ToolChoice = &bedrock.ToolChoice{Tool: &bedrock.SpecificTool{Name: tc.Name}}
			default:
				return nil, openai.InvalidRequest("tool_choice", "tool_choice.type must be auto, any, tool or none, got %q", tc.Type)
			}
			if tc.DisableParallelToolUse {
				drop("tool_choice.disable_parallel_tool_use", "Converse has no switch to forbid parallel tool calls")
			}
		}
		if !caps.Tools {
			return nil, openai.InvalidRequest("tools", "Bedrock model %s does not support tool use on Converse", target.Model)
		}
		out.ToolConfig = cfg
	} else if len(req.Tools) > 0 {
		drop("tools", `tool_choice "none": the tools are not sent`)
	}
	if err := checkMedia(out.Messages, caps, target.Model); err != nil {
		return nil, err
	}
	call.Dropped = append(call.Dropped, fitCachePoints(out, target.Model)...)
	if len(out.System) > 0 && !caps.System {
		call.Dropped = append(call.Dropped, mergeSystemIntoFirstUserTurn(out)...)
	}

	// The deployment's defaults fill what the request leaves unset.
	ic := target.defaultInference
	ic.MaxTokens = &req.MaxTokens
	if req.Temperature != nil {
		ic.Temperature = req.Temperature
	}
	if req.TopP != nil {
		ic.TopP = req.TopP
	}
	if req.StopSequences != nil {
		ic.StopSequences = req.StopSequences
	}
	out.InferenceConfig = &ic
	fields := maps.Clone(target.defaultExtra)
	if req.TopK != nil {
		if fields == nil {
			fields = map[string]json.RawMessage{}
		}
		fields["top_k"] = mustJSON(*req.TopK)
	}
	if len(fields) > 0 {
		out.AdditionalModelRequestFields = mustJSON(fields)
	}
	dropOutput := true
	if raw, ok := req.Raw["output_config"]; ok && NativeStructuredOutput(target.Model) {
		out, rest, err := outputConfigFromMessages(raw)
		if err != nil {
			return nil, err
		}
		if out != nil {
			call.Request.OutputConfig = out
			dropOutput = false
			for _, k := range slices.Sorted(slices.Values(rest)) {
				drop("output_config."+k, "only Claude takes it; Bedrock model "+target.Model+" is served through Converse")
			}
		}
	}
	for _, key := range []string{"thinking", "output_config", "context_management", "metadata", "anthropic_beta", "service_tier", "container", "mcp_servers"} {
		if key == "output_config" && !dropOutput {
			continue
		}
		if _, ok := req.Raw[key]; ok {
			drop(key, "only Claude takes it; Bedrock model "+target.Model+" is served through Converse")
		}
	}
	call.StreamFallback = req.Stream && (!caps.Stream || (out.ToolConfig != nil && !caps.StreamTools))
	return call, nil
}

// converseBlocks translates one turn's content.
func converseBlocks(content anthropic.Content, field string) ([]bedrock.ContentBlock, error) {
	var out []bedrock.ContentBlock
	for j, b := range content {
		f := fmt.Sprintf("%s.%d", field, j)
		switch b.Type {
		case "text":
			if b.Text != "" {
				out = append(out, textBlock(b.Text))
			}
		case "image":
			img, err := converseImage(b.Source, f)
			if err != nil {
				return nil, err
			}
			out = append(out, bedrock.ContentBlock{Image: img})
		case "document":
			doc, text, err := converseDocument(b, f)
			if err != nil {
				return nil, err
			}
			if doc != nil {
				out = append(out, bedrock.ContentBlock{Document: doc})
			} else {
				out = append(out, textBlock(text))
			}
		case "tool_use":
			input := b.Input
			if len(input) == 0 {
				input = json.RawMessage("{}")
			}
			out = append(out, bedrock.ContentBlock{ToolUse: &bedrock.ToolUseBlock{ToolUseID: b.ID, Name: b.Name, Input: input}})
		case "tool_result":
			res := &bedrock.ToolResultBlock{ToolUseID: b.ToolUseID}
			if b.IsError {
				res.Status = "error"
			}
			for k, c := range b.Content {
				switch c.Type {
				case "text":
					res.Content = append(res.Content, bedrock.ToolResultContent{Text: strPtr(c.Text)})
				case "image":
					img, err := converseImage(c.Source, fmt.Sprintf("%s.content.%d", f, k))
					if err != nil {
						return nil, err
					}
					res.Content = append(res.Content, bedrock.ToolResultContent{Image: img})
				default:
					return nil, openai.InvalidRequest("messages", "%s.content.%d: a tool result takes text and images, not %q", f, k, c.Type)
				}
			}
			if len(res.Content) == 0 {
				res.Content = []bedrock.ToolResultContent{{Text: strPtr("")}}
			}
			out = append(out, bedrock.ContentBlock{ToolResult: res})
		case "thinking":
			out = append(out, bedrock.ContentBlock{ReasoningContent: &bedrock.ReasoningContent{ReasoningText: &bedrock.ReasoningText{Text: b.Thinking, Signature: b.Signature}}})
		case "redacted_thinking":
			data, err := base64.StdEncoding.DecodeString(b.Data)
			if err != nil {
				return nil, openai.InvalidRequest("messages", "%s.data: not base64", f)
			}
			out = append(out, bedrock.ContentBlock{ReasoningContent: &bedrock.ReasoningContent{RedactedContent: data}})
		default:
			return nil, openai.InvalidRequest("messages", "%s: content blocks of type %q cannot go to Bedrock's Converse API", f, b.Type)
		}
		if len(b.CacheControl) > 0 {
			cp, err := rawCachePoint(b.CacheControl, f+".cache_control")
			if err != nil {
				return nil, err
			}
			out = append(out, bedrock.ContentBlock{CachePoint: cp})
		}
	}
	return out, nil
}

// rawCachePoint reads a Messages block's cache_control as a cache point.
func rawCachePoint(raw json.RawMessage, field string) (*bedrock.CachePointBlock, error) {
	var cc openai.CacheControl
	if err := json.Unmarshal(raw, &cc); err != nil {
		return nil, openai.InvalidRequest(field, "%s: must be an object such as {\"type\": \"ephemeral\"}", field)
	}
	return cachePointFor(&cc, field)
}

func converseImage(src *anthropic.Source, field string) (*bedrock.ImageBlock, error) {
	if src == nil || src.Type != "base64" {
		return nil, openai.InvalidRequest("messages", "%s.source: an image must be base64 data or a URL", field)
	}
	data, err := base64.StdEncoding.DecodeString(src.Data)
	if err != nil {
		return nil, openai.InvalidRequest("messages", "%s.source.data: not base64", field)
	}
	format, ok := ImageFormat(src.MediaType, data)
	if !ok {
		return nil, openai.InvalidRequest("messages", "%s.source.media_type: %q is not an image type Bedrock takes (png, jpeg, gif, webp)", field, src.MediaType)
	}
	return &bedrock.ImageBlock{Format: format, Source: bedrock.ImageSource{Bytes: data}}, nil
}

// converseDocument turns a PDF or text document into a Converse document;
// a plain-text source becomes text.
func converseDocument(b anthropic.ContentBlock, field string) (*bedrock.DocumentBlock, string, error) {
	src := b.Source
	if src == nil {
		return nil, "", openai.InvalidRequest("messages", "%s.source: required", field)
	}
	if src.Type == "text" {
		return nil, src.Data, nil
	}
	if src.Type != "base64" {
		return nil, "", openai.InvalidRequest("messages", "%s.source: a document must be base64 data, text or a URL", field)
	}
	data, err := base64.StdEncoding.DecodeString(src.Data)
	if err != nil {
		return nil, "", openai.InvalidRequest("messages", "%s.source.data: not base64", field)
	}
	format := documentFormats[src.MediaType]
	if format == "" {
		return nil, "", openai.InvalidRequest("messages", "%s.source.media_type: %q is not a document type Bedrock takes", field, src.MediaType)
	}
	// documentName drops an extension, which a title does not have.
	return &bedrock.DocumentBlock{Format: format, Name: documentName(b.Title + ".x"), Source: bedrock.DocumentSource{Bytes: data}}, "", nil
}

// anthropicStopReason maps Converse's stop reasons to Anthropic's.
func anthropicStopReason(r string) string {
	switch r {
	case bedrock.StopEndTurn, bedrock.StopToolUse, bedrock.StopMaxTokens, bedrock.StopSequence, bedrock.StopModelContextWindowExceeded:
		return r
	case bedrock.StopGuardrailIntervened, bedrock.StopContentFiltered:
		return anthropic.StopRefusal
	}
	return anthropic.StopEndTurn
}

// AnthropicUsage reads Converse's usage the Anthropic way: input_tokens
// without the cached part.
func AnthropicUsage(u bedrock.TokenUsage) anthropic.Usage {
	return anthropic.Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens,
		CacheReadInputTokens: u.CacheReadInputTokens, CacheCreationInputTokens: u.CacheWriteInputTokens}
}

// MessageFromConverse translates a whole Converse answer.
func MessageFromConverse(resp *bedrock.ConverseResponse, id, model string) *anthropic.MessageResponse {
	out := &anthropic.MessageResponse{ID: id, Type: "message", Role: "assistant", Model: model, Content: anthropic.Content{},
		Usage: AnthropicUsage(resp.Usage)}
	stop := anthropicStopReason(resp.StopReason)
	out.StopReason = &stop
	if resp.Output.Message == nil {
		return out
	}
	for _, b := range resp.Output.Message.Content {
		switch {
		case b.Text != nil:
			out.Content = append(out.Content, anthropic.ContentBlock{Type: "text", Text: *b.Text})
		case b.ToolUse != nil:
			out.Content = append(out.Content, anthropic.ContentBlock{Type: "tool_use", ID: b.ToolUse.ToolUseID, Name: b.ToolUse.Name, Input: b.ToolUse.Input})
		case b.ReasoningContent != nil && b.ReasoningContent.ReasoningText != nil:
			rt := b.ReasoningContent.ReasoningText
			out.Content = append(out.Content, anthropic.ContentBlock{Type: "thinking", Thinking: rt.Text, Signature: rt.Signature})
		case b.ReasoningContent != nil:
			out.Content = append(out.Content, anthropic.ContentBlock{Type: "redacted_thinking", Data: base64.StdEncoding.EncodeToString(b.ReasoningContent.RedactedContent)})
		}
	}
	return out
}

// MessagesStream translates a ConverseStream into Anthropic's events. Text
// and reasoning blocks have no start event in Converse: theirs is sent with
// their first delta. message_delta waits for the metadata event, which
// carries the usage.
type MessagesStream struct {
	id, model string
	open      map[int]bool
	stop      string
	sawStop   bool
	done      bool
	Usage     anthropic.Usage
}

// NewMessagesStream starts the translation of one stream.
func NewMessagesStream(id, model string) *MessagesStream {
	return &MessagesStream{id: id, model: model, open: map[int]bool{}}
}

// Done reports whether the answer is complete.
func (s *MessagesStream) Done() bool { return s.done }

// Event translates one Converse event.
func (s *MessagesStream) Event(ev *bedrock.StreamEvent, emit func(anthropic.Event) error) error {
	switch {
	case ev.MessageStart != nil:
		return emitJSON(emit, anthropic.EventMessageStart, anthropic.MessageStart{Type: anthropic.EventMessageStart,
			Message: anthropic.MessageResponse{ID: s.id, Type: "message", Role: "assistant", Model: s.model, Content: anthropic.Content{}}})
	case ev.ContentBlockStart != nil:
		i := ev.ContentBlockStart.ContentBlockIndex
		if tu := ev.ContentBlockStart.Start.ToolUse; tu != nil {
			s.open[i] = true
			return emitJSON(emit, anthropic.EventContentBlockStart, anthropic.ContentBlockStart{Type: anthropic.EventContentBlockStart, Index: i,
				ContentBlock: anthropic.ContentBlock{Type: "tool_use", ID: tu.ToolUseID, Name: tu.Name, Input: json.RawMessage("{}")}})
		}
	case ev.ContentBlockDelta != nil:
		return s.delta(ev.ContentBlockDelta, emit)
	case ev.ContentBlockStop != nil:
		i := ev.ContentBlockStop.ContentBlockIndex
		if !s.open[i] {
			return nil
		}
		delete(s.open, i)
		return emitJSON(emit, anthropic.EventContentBlockStop, anthropic.ContentBlockStop{Type: anthropic.EventContentBlockStop, Index: i})
	case ev.MessageStop != nil:
		s.stop, s.sawStop = anthropicStopReason(ev.MessageStop.StopReason), true
	case ev.Metadata != nil:
		s.Usage = AnthropicUsage(ev.Metadata.Usage)
		return s.finish(emit)
	}
	return nil
}

// End finishes a stream whose metadata event never came after its stop.
func (s *MessagesStream) End(emit func(anthropic.Event) error) error {
	if s.done || !s.sawStop {
		return nil
	}
	return s.finish(emit)
}

func (s *MessagesStream) finish(emit func(anthropic.Event) error) error {
	if s.done {
		return nil
	}
	for _, i := range slices.Sorted(maps.Keys(s.open)) {
		if err := emitJSON(emit, anthropic.EventContentBlockStop, anthropic.ContentBlockStop{Type: anthropic.EventContentBlockStop, Index: i}); err != nil {
			return err
		}
		delete(s.open, i)
	}
	s.done = true
	stop := s.stop
	if stop == "" {
		stop = anthropic.StopEndTurn
	}
	u := s.Usage
	if err := emitJSON(emit, anthropic.EventMessageDelta, anthropic.MessageDelta{Type: anthropic.EventMessageDelta,
		Delta: anthropic.MessageDeltaDelta{StopReason: &stop},
		Usage: anthropic.DeltaUsage{InputTokens: &u.InputTokens, OutputTokens: u.OutputTokens,
			CacheReadInputTokens: &u.CacheReadInputTokens, CacheCreationInputTokens: &u.CacheCreationInputTokens}}); err != nil {
		return err
	}
	return emitJSON(emit, anthropic.EventMessageStop, anthropic.TypeOnly{Type: anthropic.EventMessageStop})
}

func (s *MessagesStream) delta(ev *bedrock.ContentBlockDeltaEvent, emit func(anthropic.Event) error) error {
	i, d := ev.ContentBlockIndex, ev.Delta
	start := func(block anthropic.ContentBlock) error {
		if s.open[i] {
			return nil
		}
		s.open[i] = true
		return emitJSON(emit, anthropic.EventContentBlockStart, anthropic.ContentBlockStart{Type: anthropic.EventContentBlockStart, Index: i, ContentBlock: block})
	}
	out := anthropic.ContentBlockDelta{Type: anthropic.EventContentBlockDelta, Index: i}
	switch {
	case d.Text != nil:
		if err := start(anthropic.ContentBlock{Type: "text"}); err != nil {
			return err
		}
		out.Delta = anthropic.Delta{Type: "text_delta", Text: d.Text}
	case d.ToolUse != nil:
		out.Delta = anthropic.Delta{Type: "input_json_delta", PartialJSON: &d.ToolUse.Input}
	case d.ReasoningContent != nil && d.ReasoningContent.RedactedContent != nil:
		data := base64.StdEncoding.EncodeToString(d.ReasoningContent.RedactedContent)
		return start(anthropic.ContentBlock{Type: "redacted_thinking", Data: data})
	case d.ReasoningContent != nil:
		if err := start(anthropic.ContentBlock{Type: "thinking"}); err != nil {
			return err
		}
		if d.ReasoningContent.Signature != nil {
			out.Delta = anthropic.Delta{Type: "signature_delta", Signature: d.ReasoningContent.Signature}
		} else {
			text := ""
			if d.ReasoningContent.Text != nil {
				text = *d.ReasoningContent.Text
			}
			out.Delta = anthropic.Delta{Type: "thinking_delta", Thinking: &text}
		}
	default:
		return nil
	}
	return emitJSON(emit, anthropic.EventContentBlockDelta, out)
}

func emitJSON(emit func(anthropic.Event) error, typ string, v any) error {
	return emit(anthropic.Event{Type: typ, Data: mustJSON(v)})
}

// outputConfigFromMessages reads Anthropic's output_config.format (a JSON
// schema) as Converse's outputConfig; rest names the other keys of
// output_config, which only Claude takes.
func outputConfigFromMessages(raw json.RawMessage) (*bedrock.OutputConfig, []string, error) {
	var cfg map[string]json.RawMessage
	if json.Unmarshal(raw, &cfg) != nil {
		return nil, nil, openai.InvalidRequest("output_config", "output_config must be an object")
	}
	var rest []string
	for k := range cfg {
		if k != "format" {
			rest = append(rest, k)
		}
	}
	f, ok := cfg["format"]
	if !ok {
		return nil, rest, nil
	}
	var format struct {
		Type   string          `json:"type"`
		Schema json.RawMessage `json:"schema"`
	}
	if json.Unmarshal(f, &format) != nil || format.Type != "json_schema" {
		return nil, nil, openai.InvalidRequest("output_config.format", "output_config.format must be {\"type\": \"json_schema\", \"schema\": {...}}")
	}
	out, err := outputConfigFor(&openai.ResponseFormat{Type: "json_schema", JSONSchema: &openai.JSONSchema{Schema: format.Schema}})
	if err != nil {
		return nil, nil, openai.InvalidRequest("output_config.format.schema", "output_config.format.schema must be a JSON schema object")
	}
	return out, rest, nil
}
