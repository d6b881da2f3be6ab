package translate

import (
	"encoding/base64"
	"strings"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
)

// ChatStream turns ConverseStream events into chat.completion.chunk
// objects. It holds the per-stream state translation needs: which content
// block is which tool call, whether the role went out, the finish reason.
//
// Chunks are handed to emit one at a time and reused afterwards: emit must
// encode (or copy) the chunk before it returns.
type ChatStream struct {
	meta         ResponseMeta
	includeUsage bool

	chunk   openai.ChatChunk
	choice  [1]openai.ChunkChoice
	call    [1]openai.ToolCall
	thought [1]openai.ThinkingBlock

	blocks      []blockState // by Bedrock contentBlockIndex
	toolCalls   int          // tool calls seen so far: the next OpenAI index
	finished    bool
	sawStop     bool
	stopReason  string
	jsonPending strings.Builder // wrapped structured output, unwrapped at block stop
	withheld    []string        // names of the calls left out, for the log
}

type blockKind uint8

const (
	blockText blockKind = iota
	blockTool
	blockJSON
	blockReasoning
	blockWithheld // a call to a tool the client did not offer: left out
)

type blockState struct {
	kind      blockKind
	toolIndex int  // OpenAI tool call index for blockTool
	gotInput  bool // a tool block received input fragments
	thinking  strings.Builder
	signature string
	redacted  []byte
}

// NewChatStream starts the translation of one stream.
func NewChatStream(meta ResponseMeta, includeUsage bool) *ChatStream {
	s := &ChatStream{meta: meta, includeUsage: includeUsage}
	s.chunk = openai.ChatChunk{ID: meta.ID, Object: "chat.completion.chunk", Created: meta.Created, Model: meta.Model}
	return s
}

// Done reports whether the stream ended properly (Bedrock sent messageStop).
func (s *ChatStream) Done() bool { return s.sawStop }

// Withheld names the calls the stream left out so far (see AnswerShape),
// for the gateway's log.
func (s *ChatStream) Withheld() []string { return s.withheld }

// Event translates one Bedrock event into zero or more chunks.
func (s *ChatStream) Event(ev *bedrock.StreamEvent, emit func(*openai.ChatChunk) error) error {
	switch {
	case ev.MessageStart != nil:
		empty := ""
		return s.emitDelta(emit, openai.Delta{Role: "assistant", Content: &empty})
	case ev.ContentBlockStart != nil:
		return s.blockStart(ev.ContentBlockStart, emit)
	case ev.ContentBlockDelta != nil:
		return s.blockDelta(ev.ContentBlockDelta, emit)
	case ev.ContentBlockStop != nil:
		return s.blockStop(ev.ContentBlockStop.ContentBlockIndex, emit)
	case ev.MessageStop != nil:
		s.sawStop = true
		s.stopReason = ev.MessageStop.StopReason
		return s.finish(emit)
	case ev.Metadata != nil:
		// Bedrock names the tier it served in the last event; the chunks
		// sent after it (the usage chunk) carry it.
		s.chunk.ServiceTier = servedTier(ev.Metadata.ServiceTier)
		if !s.includeUsage {
			return nil
		}
		s.choice[0] = openai.ChunkChoice{}
		s.chunk.Choices = s.choice[:0]
		s.chunk.Usage = UsageFromBedrock(ev.Metadata.Usage)
		err := emit(&s.chunk)
		s.chunk.Usage = nil
		return err
	}
	return nil
}

func (s *ChatStream) block(i int) *blockState {
	for len(s.blocks) <= i {
		s.blocks = append(s.blocks, blockState{})
	}
	return &s.blocks[i]
}

func (s *ChatStream) blockStart(ev *bedrock.ContentBlockStartEvent, emit func(*openai.ChatChunk) error) error {
	tu := ev.Start.ToolUse
	if tu == nil {
		return nil
	}
	b := s.block(ev.ContentBlockIndex)
	if s.meta.Answer.JSONTool != "" && tu.Name == s.meta.Answer.JSONTool {
		b.kind = blockJSON
		return nil
	}
	if s.meta.Answer.withholds(tu.Name) {
		b.kind = blockWithheld
		s.withheld = append(s.withheld, tu.Name)
		return nil
	}
	b.kind = blockTool
	b.toolIndex = s.toolCalls
	s.toolCalls++
	idx := b.toolIndex
	s.call[0] = openai.ToolCall{Index: &idx, ID: tu.ToolUseID, Type: "function", Function: openai.FunctionCall{Name: tu.Name}}
	return s.emitDelta(emit, openai.Delta{ToolCalls: s.call[:]})
}

func (s *ChatStream) blockDelta(ev *bedrock.ContentBlockDeltaEvent, emit func(*openai.ChatChunk) error) error {
	b := s.block(ev.ContentBlockIndex)
	d := ev.Delta
	switch {
	case d.Text != nil:
		if *d.Text == "" {
			return nil
		}
		return s.emitDelta(emit, openai.Delta{Content: d.Text})
	case d.ToolUse != nil:
		if d.ToolUse.Input == "" {
			return nil
		}
		b.gotInput = true
		switch b.kind {
		case blockJSON:
			if s.meta.Answer.JSONWrapped {
				s.jsonPending.WriteString(d.ToolUse.Input)
				return nil
			}
			return s.emitDelta(emit, openai.Delta{Content: &d.ToolUse.Input})
		case blockTool:
			idx := b.toolIndex
			s.call[0] = openai.ToolCall{Index: &idx, Function: openai.FunctionCall{Arguments: d.ToolUse.Input}}
			return s.emitDelta(emit, openai.Delta{ToolCalls: s.call[:]})
		}
		return nil
	case d.ReasoningContent != nil:
		b.kind = blockReasoning
		rc := d.ReasoningContent
		switch {
		case rc.Text != nil:
			b.thinking.WriteString(*rc.Text)
			return s.emitDelta(emit, openai.Delta{ReasoningContent: rc.Text})
		case rc.Signature != nil:
			b.signature += *rc.Signature
		case rc.RedactedContent != nil:
			b.redacted = append(b.redacted, rc.RedactedContent...)
		}
	}
	return nil
}

// blockStop completes a block: a tool call with no input gets "{}", and a
// finished reasoning block goes out whole, with its signature, so a client
// can replay it.
func (s *ChatStream) blockStop(i int, emit func(*openai.ChatChunk) error) error {
	if i >= len(s.blocks) {
		return nil
	}
	b := &s.blocks[i]
	switch b.kind {
	case blockTool:
		if b.gotInput {
			return nil
		}
		idx := b.toolIndex
		s.call[0] = openai.ToolCall{Index: &idx, Function: openai.FunctionCall{Arguments: "{}"}}
		return s.emitDelta(emit, openai.Delta{ToolCalls: s.call[:]})
	case blockJSON:
		var content string
		switch {
		case s.meta.Answer.JSONWrapped:
			content = string(structuredContent([]byte(s.jsonPending.String()), true))
		case !b.gotInput:
			content = "{}"
		default:
			return nil
		}
		return s.emitDelta(emit, openai.Delta{Content: &content})
	case blockReasoning:
		if b.redacted != nil {
			s.thought[0] = openai.ThinkingBlock{Type: "redacted_thinking", Data: base64.StdEncoding.EncodeToString(b.redacted)}
		} else {
			s.thought[0] = openai.ThinkingBlock{Type: "thinking", Thinking: b.thinking.String(), Signature: b.signature}
		}
		return s.emitDelta(emit, openai.Delta{ThinkingBlocks: s.thought[:]})
	}
	return nil
}

func (s *ChatStream) finish(emit func(*openai.ChatChunk) error) error {
	if s.finished {
		return nil
	}
	s.finished = true
	reason := FinishReason(s.stopReason, s.toolCalls > 0)
	s.choice[0] = openai.ChunkChoice{FinishReason: &reason}
	s.chunk.Choices = s.choice[:]
	return emit(&s.chunk)
}

func (s *ChatStream) emitDelta(emit func(*openai.ChatChunk) error, d openai.Delta) error {
	s.choice[0] = openai.ChunkChoice{Delta: d}
	s.chunk.Choices = s.choice[:]
	return emit(&s.chunk)
}
