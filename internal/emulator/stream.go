package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/strata-gateway/strata/internal/bedrock"
)

// streamEvent is one ConverseStream event before encoding: its :event-type and payload.
type streamEvent struct {
	eventType string
	payload   any
}

// toolInputFragment is the most bytes of tool input one delta carries. Small, so
// that even short inputs arrive in several pieces, as they do from real models.
const toolInputFragment = 8

// streamEvents turns a Converse response into the events ConverseStream sends
// for it, in Bedrock's order. Text needs no start event; tool use does.
func streamEvents(resp bedrock.ConverseResponse) []streamEvent {
	msg := resp.Output.Message
	events := []streamEvent{{bedrock.EventMessageStart, bedrock.MessageStartEvent{Role: msg.Role}}}
	for i, block := range msg.Content {
		blockEvents := contentBlockEvents(i, block)
		if len(blockEvents) == 0 {
			continue // blocks a model never streams (images, documents)
		}
		events = append(events, blockEvents...)
		events = append(events, streamEvent{bedrock.EventContentBlockStop, bedrock.ContentBlockStopEvent{ContentBlockIndex: i}})
	}
	events = append(events,
		streamEvent{bedrock.EventMessageStop, bedrock.MessageStopEvent{
			StopReason: resp.StopReason, AdditionalModelResponseFields: resp.AdditionalModelResponseFields,
		}},
		// Metrics may still be nil here: the writer measures latency when it sends this event.
		streamEvent{bedrock.EventMetadata, bedrock.MetadataEvent{Usage: resp.Usage, Metrics: resp.Metrics, Trace: resp.Trace,
			PerformanceConfig: resp.PerformanceConfig, ServiceTier: resp.ServiceTier}},
	)
	return events
}

// contentBlockEvents streams one content block, without its stop event.
func contentBlockEvents(index int, block bedrock.ContentBlock) []streamEvent {
	delta := func(d bedrock.ContentBlockDelta) streamEvent {
		return streamEvent{bedrock.EventContentBlockDelta, bedrock.ContentBlockDeltaEvent{ContentBlockIndex: index, Delta: d}}
	}
	var events []streamEvent
	switch {
	case block.Text != nil:
		for _, chunk := range textPieces(*block.Text) {
			events = append(events, delta(bedrock.ContentBlockDelta{Text: &chunk}))
		}
	case block.ToolUse != nil:
		events = append(events, streamEvent{bedrock.EventContentBlockStart, bedrock.ContentBlockStartEvent{
			ContentBlockIndex: index,
			Start:             bedrock.ContentBlockStart{ToolUse: &bedrock.ToolUseStart{ToolUseID: block.ToolUse.ToolUseID, Name: block.ToolUse.Name}},
		}})
		for _, fragment := range toolInputFragments(block.ToolUse.Input) {
			events = append(events, delta(bedrock.ContentBlockDelta{ToolUse: &bedrock.ToolUseDelta{Input: fragment}}))
		}
	case block.ReasoningContent != nil && block.ReasoningContent.ReasoningText != nil:
		reasoning := block.ReasoningContent.ReasoningText
		for _, chunk := range textPieces(reasoning.Text) {
			events = append(events, delta(bedrock.ContentBlockDelta{ReasoningContent: &bedrock.ReasoningDelta{Text: &chunk}}))
		}
		if reasoning.Signature != "" {
			signature := reasoning.Signature
			events = append(events, delta(bedrock.ContentBlockDelta{ReasoningContent: &bedrock.ReasoningDelta{Signature: &signature}}))
		}
	case block.ReasoningContent != nil:
		redacted := block.ReasoningContent.RedactedContent
		events = append(events, delta(bedrock.ContentBlockDelta{ReasoningContent: &bedrock.ReasoningDelta{RedactedContent: redacted}}))
	}
	return events
}

// textPieces is one delta per word; empty text still sends one (empty) delta so
// the block exists with the same index as in the Converse answer.
func textPieces(text string) []string {
	if chunks := wordChunks(text); len(chunks) > 0 {
		return chunks
	}
	return []string{""}
}

// toolInputFragments splits the tool input's compact JSON into pieces of at
// most toolInputFragment bytes, on rune boundaries so every piece stays valid UTF-8.
func toolInputFragments(input json.RawMessage) []string {
	var compact bytes.Buffer
	if len(input) == 0 || json.Compact(&compact, input) != nil {
		compact.Reset()
		compact.WriteString("{}")
	}
	s := compact.String()
	var fragments []string
	for len(s) > 0 {
		n := min(toolInputFragment, len(s))
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n++
		}
		fragments = append(fragments, s[:n])
		s = s[n:]
	}
	return fragments
}

// streamResponse sends the events, applying a stream fault when its turn comes.
// Headers go out only now, after every check that could fail with a status.
func (e *Emulator) streamResponse(x *exchange, events []streamEvent, fault *Fault) error {
	x.w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	x.started = true
	x.w.WriteHeader(http.StatusOK)
	out := newEventWriter(x.w)
	if err := out.flush(); err != nil {
		return err
	}
	faultAt := -1
	if fault != nil {
		faultAt = min(max(0, fault.AfterEvents), len(events))
	}
	for i, ev := range events {
		if i == faultAt {
			done, err := e.applyStreamFault(x, out, *fault, &ev)
			if done || err != nil {
				return err
			}
		}
		if md, ok := ev.payload.(bedrock.MetadataEvent); ok && md.Metrics == nil {
			md.Metrics = x.latency(e.now())
			ev.payload = md
		}
		if err := out.event(ev); err != nil {
			return err
		}
	}
	if faultAt == len(events) {
		_, err := e.applyStreamFault(x, out, *fault, nil)
		return err
	}
	return nil
}

// applyStreamFault breaks the stream before next (nil once all events are sent).
// It reports whether the stream is over.
func (e *Emulator) applyStreamFault(x *exchange, out *eventWriter, f Fault, next *streamEvent) (bool, error) {
	switch f.Kind {
	case FaultStreamException:
		name := f.Exception
		if name == "" {
			name = "ModelStreamErrorException"
		}
		name = bedrock.ExceptionName(name)
		return true, out.exception(name, newAPIError(name, f.Message).message)
	case FaultStreamError:
		code := f.Exception
		if code == "" {
			code = "InternalFailure"
		}
		message := f.Message
		if message == "" {
			message = "An internal error occurred."
		}
		return true, out.errorFrame(code, message)
	case FaultStreamBroken:
		if next == nil {
			next = &streamEvent{bedrock.EventMetadata, bedrock.MetadataEvent{}}
		}
		if err := out.halfEvent(*next); err != nil {
			return true, err
		}
		// Dropping the connection mid-frame is what a network failure looks like;
		// net/http closes it without logging for this sentinel.
		panic(http.ErrAbortHandler)
	case FaultStreamStall:
		ctx := x.r.Context()
		if f.Until != nil {
			select {
			case <-f.Until:
				return false, nil
			case <-ctx.Done():
				return true, ctx.Err()
			}
		}
		if f.Delay <= 0 {
			<-ctx.Done()
			return true, ctx.Err()
		}
		return false, sleep(ctx, f.Delay)
	}
	return false, nil
}

// eventWriter encodes eventstream frames onto a response, flushing after each
// so the client sees every event as it happens.
type eventWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	encoder *eventstream.Encoder
	sent    int // events sent, which also varies the padding
}

func newEventWriter(w http.ResponseWriter) *eventWriter {
	return &eventWriter{w: w, rc: http.NewResponseController(w), encoder: eventstream.NewEncoder()}
}

func (ew *eventWriter) event(ev streamEvent) error {
	frame, err := ew.encodeEvent(ev)
	if err != nil {
		return err
	}
	return ew.write(frame)
}

// halfEvent writes the first half of an event's frame, as a connection cut mid-frame delivers.
func (ew *eventWriter) halfEvent(ev streamEvent) error {
	frame, err := ew.encodeEvent(ev)
	if err != nil {
		return err
	}
	return ew.write(frame[:len(frame)/2])
}

func (ew *eventWriter) encodeEvent(ev streamEvent) ([]byte, error) {
	payload, err := json.Marshal(ev.payload)
	if err != nil {
		return nil, fmt.Errorf("emulator: encode %s event: %w", ev.eventType, err)
	}
	var headers eventstream.Headers
	headers.Set(":event-type", eventstream.StringValue(ev.eventType))
	headers.Set(":content-type", eventstream.StringValue("application/json"))
	headers.Set(":message-type", eventstream.StringValue("event"))
	return ew.encode(headers, withPadding(payload, ew.sent))
}

// exception writes a modeled exception frame; the SDKs turn it into the typed
// error (e.g. *types.ThrottlingException). The :exception-type is lowerCamel, as
// the stream's union member is named.
func (ew *eventWriter) exception(name, message string) error {
	var headers eventstream.Headers
	headers.Set(":exception-type", eventstream.StringValue(lowerFirst(name)))
	headers.Set(":content-type", eventstream.StringValue("application/json"))
	headers.Set(":message-type", eventstream.StringValue("exception"))
	payload, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{message})
	frame, err := ew.encode(headers, payload)
	if err != nil {
		return err
	}
	return ew.write(frame)
}

// errorFrame writes an unmodeled error frame, which carries its code and
// message in headers and has no payload.
func (ew *eventWriter) errorFrame(code, message string) error {
	var headers eventstream.Headers
	headers.Set(":error-code", eventstream.StringValue(code))
	headers.Set(":error-message", eventstream.StringValue(message))
	headers.Set(":message-type", eventstream.StringValue("error"))
	frame, err := ew.encode(headers, nil)
	if err != nil {
		return err
	}
	return ew.write(frame)
}

func (ew *eventWriter) encode(headers eventstream.Headers, payload []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := ew.encoder.Encode(&buf, eventstream.Message{Headers: headers, Payload: payload}); err != nil {
		return nil, fmt.Errorf("emulator: encode eventstream frame: %w", err)
	}
	return buf.Bytes(), nil
}

func (ew *eventWriter) write(frame []byte) error {
	if _, err := ew.w.Write(frame); err != nil {
		return err
	}
	ew.sent++
	return ew.flush()
}

func (ew *eventWriter) flush() error {
	if err := ew.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// paddingAlphabet is what Bedrock pads events with: its "p" field hides the
// length of the text in each event from anyone watching encrypted traffic.
const paddingAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// withPadding adds Bedrock's "p" field to a JSON object, its length varying
// with the event's position (deterministically, so streams can be compared).
func withPadding(object []byte, position int) []byte {
	pad := paddingAlphabet[:1+(position*17)%len(paddingAlphabet)]
	field := `"p":"` + pad + `"}`
	trimmed := bytes.TrimSuffix(bytes.TrimSpace(object), []byte("}"))
	if bytes.Equal(bytes.TrimSpace(trimmed), []byte("{")) {
		return append(trimmed, field...)
	}
	return append(append(trimmed, ','), field...)
}

func lowerFirst(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return s
	}
	return string(s[0]-'A'+'a') + s[1:]
}
