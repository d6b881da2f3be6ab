package bedrock

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// Stream reads a ConverseStream answer, one event at a time. It is not safe
// for concurrent use.
type Stream struct {
	body    io.ReadCloser
	dec     *eventstream.Decoder
	payload []byte // reused frame buffer
	done    bool
}

func newStream(body io.ReadCloser) *Stream {
	return &Stream{body: body, dec: eventstream.NewDecoder(), payload: make([]byte, 0, 4096)}
}

// NewStreamReader reads ConverseStream events from r; for tests and tools
// that hold an eventstream body from elsewhere.
func NewStreamReader(r io.ReadCloser) *Stream { return newStream(r) }

// ErrStreamTruncated means the connection ended before Bedrock closed the
// stream: a frame was cut or messageStop never came.
var ErrStreamTruncated = errors.New("bedrock: stream ended before the message was complete")

// Next decodes the next event into ev, replacing its contents. It returns
// io.EOF after the stream's last event, *APIError for an exception frame,
// and ErrStreamTruncated (wrapped) for a connection that broke mid-stream.
// Every frame's prelude and message CRC is checked by the decoder.
func (s *Stream) Next(ev *StreamEvent) error {
	if s.done {
		return io.EOF
	}
	msg, err := s.dec.Decode(s.body, s.payload[:0])
	if err != nil {
		if errors.Is(err, io.EOF) {
			s.done = true
			return io.EOF
		}
		s.done = true
		return fmt.Errorf("%w: %w", ErrStreamTruncated, err)
	}
	if cap(msg.Payload) > cap(s.payload) {
		s.payload = msg.Payload[:0]
	}
	switch headerString(msg.Headers, ":message-type") {
	case "event":
		return decodeEvent(headerString(msg.Headers, ":event-type"), msg.Payload, ev)
	case "exception":
		s.done = true
		return exceptionError(headerString(msg.Headers, ":exception-type"), msg.Payload)
	case "error":
		s.done = true
		return &APIError{Code: headerString(msg.Headers, ":error-code"), Message: headerString(msg.Headers, ":error-message")}
	}
	return fmt.Errorf("bedrock: unknown eventstream message type %q", headerString(msg.Headers, ":message-type"))
}

// Close releases the connection; closing early cancels the rest of the answer.
func (s *Stream) Close() error { return s.body.Close() }

func headerString(h eventstream.Headers, name string) string {
	v := h.Get(name)
	if v == nil {
		return ""
	}
	if sv, ok := v.(eventstream.StringValue); ok {
		return string(sv)
	}
	return v.String()
}

func exceptionError(exType string, payload []byte) *APIError {
	var body struct {
		Message  string `json:"message"`
		Message2 string `json:"Message"`
	}
	_ = json.Unmarshal(payload, &body)
	msg := body.Message
	if msg == "" {
		msg = body.Message2
	}
	return &APIError{Code: ExceptionName(exType), Message: msg}
}

// decodeEvent fills ev from one event payload. Unknown event types (Bedrock
// adds some over time) decode to an empty event, which callers skip.
func decodeEvent(eventType string, payload []byte, ev *StreamEvent) error {
	*ev = StreamEvent{}
	var target any
	switch eventType {
	case EventMessageStart:
		ev.MessageStart = &MessageStartEvent{}
		target = ev.MessageStart
	case EventContentBlockStart:
		ev.ContentBlockStart = &ContentBlockStartEvent{}
		target = ev.ContentBlockStart
	case EventContentBlockDelta:
		ev.ContentBlockDelta = &ContentBlockDeltaEvent{}
		target = ev.ContentBlockDelta
	case EventContentBlockStop:
		ev.ContentBlockStop = &ContentBlockStopEvent{}
		target = ev.ContentBlockStop
	case EventMessageStop:
		ev.MessageStop = &MessageStopEvent{}
		target = ev.MessageStop
	case EventMetadata:
		ev.Metadata = &MetadataEvent{}
		target = ev.Metadata
	default:
		return nil
	}
	if err := json.Unmarshal(payload, target); err != nil {
		return fmt.Errorf("bedrock: decode %s event: %w", eventType, err)
	}
	return nil
}
