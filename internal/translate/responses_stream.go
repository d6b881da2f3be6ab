package translate

import (
	"strings"

	"github.com/strata-gateway/strata/internal/openai"
)

// ResponsesStream turns a streamed chat answer (the chunks ChatStream
// makes) into the Responses event sequence, and builds the final response
// object as it goes. It holds the per-stream state: which output item is
// open, which tool call index is which item, the sequence number.
//
// Events are handed to emit one at a time and reused afterwards: emit must
// encode the event before it returns.
type ResponsesStream struct {
	a    ResponsesAnswer
	resp *openai.Response
	ev   openai.ResponseEvent
	seq  int

	open      int // index in resp.Output of the open item; -1 if none
	openKind  string
	text      strings.Builder // the open item's text or arguments
	reasoned  bool            // the open reasoning item got its block
	toolItems map[int]int     // chat tool call index -> output index
	finish    string
	usage     *openai.Usage
}

// NewResponsesStream starts the translation of one stream into r, made by
// NewResponse.
func NewResponsesStream(r *openai.Response, a ResponsesAnswer) *ResponsesStream {
	return &ResponsesStream{a: a, resp: r, open: -1, toolItems: map[int]int{}}
}

// Response is the response as built so far, with every reasoning item's
// encrypted_content: what is stored.
func (s *ResponsesStream) Response() *openai.Response { return s.resp }

func (s *ResponsesStream) emit(emit func(*openai.ResponseEvent) error, ev openai.ResponseEvent) error {
	ev.SequenceNumber = s.seq
	s.seq++
	s.ev = ev
	return emit(&s.ev)
}

// Start emits response.created and response.in_progress.
func (s *ResponsesStream) Start(emit func(*openai.ResponseEvent) error) error {
	if err := s.emit(emit, openai.ResponseEvent{Type: openai.EventCreated, Response: s.resp}); err != nil {
		return err
	}
	return s.emit(emit, openai.ResponseEvent{Type: openai.EventInProgress, Response: s.resp})
}

// Chunk translates one chat chunk into zero or more events.
func (s *ResponsesStream) Chunk(c *openai.ChatChunk, emit func(*openai.ResponseEvent) error) error {
	if c.Usage != nil {
		s.usage = c.Usage
	}
	if len(c.Choices) == 0 {
		return nil
	}
	ch := &c.Choices[0]
	d := &ch.Delta
	if d.ReasoningContent != nil && *d.ReasoningContent != "" {
		if err := s.reasoningDelta(*d.ReasoningContent, emit); err != nil {
			return err
		}
	}
	for _, tb := range d.ThinkingBlocks {
		if err := s.reasoningBlock(tb, emit); err != nil {
			return err
		}
	}
	if d.Content != nil && *d.Content != "" {
		if err := s.textDelta(*d.Content, emit); err != nil {
			return err
		}
	}
	for _, tc := range d.ToolCalls {
		if err := s.toolCallDelta(tc, emit); err != nil {
			return err
		}
	}
	if ch.FinishReason != nil {
		s.finish = *ch.FinishReason
		return s.closeItem(emit)
	}
	return nil
}

func (s *ResponsesStream) addItem(it openai.Item, emit func(*openai.ResponseEvent) error) error {
	if err := s.closeItem(emit); err != nil {
		return err
	}
	s.resp.Output = append(s.resp.Output, it)
	s.open, s.openKind = len(s.resp.Output)-1, it.Type
	s.text.Reset()
	s.reasoned = false
	added := it
	return s.emit(emit, openai.ResponseEvent{Type: openai.EventOutputItemAdded, OutputIndex: s.open, Item: &added})
}

func (s *ResponsesStream) item() *openai.Item { return &s.resp.Output[s.open] }

func (s *ResponsesStream) reasoningDelta(text string, emit func(*openai.ResponseEvent) error) error {
	if s.openKind != openai.ItemReasoning || s.reasoned {
		it := openai.Item{Type: openai.ItemReasoning, ID: s.a.NewID("rs"), Summary: []openai.Part{}}
		if err := s.addItem(it, emit); err != nil {
			return err
		}
		ev := openai.ResponseEvent{Type: openai.EventContentPartAdded, ItemID: it.ID, OutputIndex: s.open,
			Part: &openai.Part{Type: openai.PartReasoningText}}
		if s.a.Summarize {
			ev.Type = openai.EventSummaryPartAdded
			ev.Part = &openai.Part{Type: openai.PartSummaryText}
		}
		if err := s.emit(emit, ev); err != nil {
			return err
		}
	}
	s.text.WriteString(text)
	ev := openai.ResponseEvent{Type: openai.EventReasoningTextDelta, ItemID: s.item().ID, OutputIndex: s.open, Delta: text}
	if s.a.Summarize {
		ev.Type = openai.EventSummaryTextDelta
	}
	return s.emit(emit, ev)
}

// reasoningBlock completes the open reasoning item with the whole block
// (its signature is what encrypted_content carries), or adds a reasoning
// item for a block that streamed no text (redacted reasoning).
func (s *ResponsesStream) reasoningBlock(tb openai.ThinkingBlock, emit func(*openai.ResponseEvent) error) error {
	if s.openKind != openai.ItemReasoning || s.reasoned {
		if err := s.addItem(openai.Item{Type: openai.ItemReasoning, ID: s.a.NewID("rs"), Summary: []openai.Part{}}, emit); err != nil {
			return err
		}
	}
	enc := EncodeReasoning(tb)
	s.item().EncryptedContent = &enc
	s.reasoned = true
	return nil
}

func (s *ResponsesStream) textDelta(text string, emit func(*openai.ResponseEvent) error) error {
	if s.openKind != openai.ItemMessage {
		it := openai.Item{Type: openai.ItemMessage, ID: s.a.NewID("msg"), Status: openai.StatusInProgress, Role: "assistant",
			Content: openai.ItemContent{Parts: []openai.Part{}}}
		if err := s.addItem(it, emit); err != nil {
			return err
		}
		if err := s.emit(emit, openai.ResponseEvent{Type: openai.EventContentPartAdded, ItemID: it.ID, OutputIndex: s.open,
			Part: &openai.Part{Type: openai.PartOutputText}}); err != nil {
			return err
		}
	}
	s.text.WriteString(text)
	return s.emit(emit, openai.ResponseEvent{Type: openai.EventOutputTextDelta, ItemID: s.item().ID, OutputIndex: s.open, Delta: text})
}

func (s *ResponsesStream) toolCallDelta(tc openai.ToolCall, emit func(*openai.ResponseEvent) error) error {
	index := 0
	if tc.Index != nil {
		index = *tc.Index
	}
	at, known := s.toolItems[index]
	if !known {
		it := functionCallItem(s.a, s.a.NewID("fc"), tc.ID, tc.Function.Name, "", openai.StatusInProgress)
		if err := s.addItem(it, emit); err != nil {
			return err
		}
		at = s.open
		s.toolItems[index] = at
	}
	if tc.Function.Arguments == "" {
		return nil
	}
	if at != s.open {
		// A model that interleaves tool calls: keep the arguments with
		// their call even though another item is open.
		s.resp.Output[at].Arguments += tc.Function.Arguments
	} else {
		s.text.WriteString(tc.Function.Arguments)
	}
	return s.emit(emit, openai.ResponseEvent{Type: openai.EventArgumentsDelta, ItemID: s.resp.Output[at].ID, OutputIndex: at, Delta: tc.Function.Arguments})
}

// closeItem ends the open item with its .done events.
func (s *ResponsesStream) closeItem(emit func(*openai.ResponseEvent) error) error {
	if s.open < 0 {
		return nil
	}
	at := s.open
	it := s.item()
	text := s.text.String()
	s.open, s.openKind = -1, ""
	s.text.Reset()
	switch it.Type {
	case openai.ItemReasoning:
		if text != "" {
			part := openai.Part{Type: openai.PartReasoningText, Text: text}
			textDone, partDone := openai.EventReasoningTextDone, openai.EventContentPartDone
			if s.a.Summarize {
				part.Type = openai.PartSummaryText
				textDone, partDone = openai.EventSummaryTextDone, openai.EventSummaryPartDone
				it.Summary = []openai.Part{part}
			} else {
				it.Content = openai.ItemContent{Parts: []openai.Part{part}}
			}
			if err := s.emit(emit, openai.ResponseEvent{Type: textDone, ItemID: it.ID, OutputIndex: at, Text: text}); err != nil {
				return err
			}
			if err := s.emit(emit, openai.ResponseEvent{Type: partDone, ItemID: it.ID, OutputIndex: at, Part: &part}); err != nil {
				return err
			}
		}
	case openai.ItemMessage:
		part := openai.Part{Type: openai.PartOutputText, Text: text}
		it.Content = openai.ItemContent{Parts: []openai.Part{part}}
		it.Status = openai.StatusCompleted
		if err := s.emit(emit, openai.ResponseEvent{Type: openai.EventOutputTextDone, ItemID: it.ID, OutputIndex: at, Text: text}); err != nil {
			return err
		}
		if err := s.emit(emit, openai.ResponseEvent{Type: openai.EventContentPartDone, ItemID: it.ID, OutputIndex: at, Part: &part}); err != nil {
			return err
		}
	case openai.ItemFunctionCall:
		it.Arguments += text
		if it.Arguments == "" {
			it.Arguments = "{}"
		}
		it.Status = openai.StatusCompleted
		if err := s.emit(emit, openai.ResponseEvent{Type: openai.EventArgumentsDone, ItemID: it.ID, OutputIndex: at, Text: it.Arguments}); err != nil {
			return err
		}
	}
	done := *it
	if !s.a.ShowEncrypted {
		done.EncryptedContent = nil
	}
	return s.emit(emit, openai.ResponseEvent{Type: openai.EventOutputItemDone, OutputIndex: at, Item: &done})
}

// Finish ends a stream whose answer is complete: the last item closes and
// response.completed (or response.incomplete) carries the whole response.
func (s *ResponsesStream) Finish(completedAt int64, emit func(*openai.ResponseEvent) error) error {
	if err := s.closeItem(emit); err != nil {
		return err
	}
	if s.finish == "length" {
		for i := range s.resp.Output {
			if s.resp.Output[i].Type == openai.ItemMessage {
				s.resp.Output[i].Status = openai.StatusIncomplete
			}
		}
	}
	s.resp.Usage = ResponseUsageFromChat(s.usage)
	finishResponse(s.resp, s.finish, completedAt)
	typ := openai.EventCompleted
	if s.resp.Status == openai.StatusIncomplete {
		typ = openai.EventIncomplete
	}
	return s.emit(emit, openai.ResponseEvent{Type: typ, Response: ForClient(s.resp, s.a.ShowEncrypted)})
}

// Fail ends a stream that broke off: an error event, then response.failed
// with the error on the response.
func (s *ResponsesStream) Fail(e *openai.Error, emit func(*openai.ResponseEvent) error) error {
	code := e.Code
	if code == "" {
		code = e.Type
	}
	s.resp.Status = openai.StatusFailed
	s.resp.Error = &openai.ResponseError{Code: code, Message: e.Message}
	s.resp.Usage = ResponseUsageFromChat(s.usage)
	if err := s.emit(emit, openai.ResponseEvent{Type: openai.EventError, Code: code, Message: e.Message, Param: e.Param}); err != nil {
		return err
	}
	return s.emit(emit, openai.ResponseEvent{Type: openai.EventFailed, Response: ForClient(s.resp, s.a.ShowEncrypted)})
}
