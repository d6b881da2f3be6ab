package bedrock

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// Stream reads a ConverseStream answer, one event at a time. It is not safe
// for concurrent use.
type Stream struct {
	body   io.ReadCloser
	frames frameReader
	frame  frame
	events eventStore
	done   bool
}

// eventStore holds the decoded events: Next fills one of them and points
// the caller's StreamEvent at it, so a stream allocates no event structs.
type eventStore struct {
	messageStart MessageStartEvent
	blockStart   ContentBlockStartEvent
	blockDelta   ContentBlockDeltaEvent
	blockStop    ContentBlockStopEvent
	messageStop  MessageStopEvent
	metadata     MetadataEvent
}

func newStream(body io.ReadCloser) *Stream {
	return &Stream{body: body, frames: frameReader{r: body}}
}

// NewStreamReader reads ConverseStream events from r; for tests and tools
// that hold an eventstream body from elsewhere.
func NewStreamReader(r io.ReadCloser) *Stream { return newStream(r) }

// ErrStreamTruncated means the connection ended before Bedrock closed the
// stream: a frame was cut or messageStop never came.
var ErrStreamTruncated = errors.New("bedrock: stream ended before the message was complete")

// Next decodes the next event into ev, replacing its contents. What ev
// points to is reused: it is valid until the next call. Next returns
// io.EOF after the stream's last event, *APIError for an exception frame,
// and ErrStreamTruncated (wrapped) for a connection that broke mid-stream
// or a frame that fails its checks: every frame's prelude and message CRC
// is verified.
func (s *Stream) Next(ev *StreamEvent) error {
	if s.done {
		return io.EOF
	}
	f := &s.frame
	if err := s.frames.next(f); err != nil {
		s.done = true
		if err == io.EOF {
			return io.EOF
		}
		return fmt.Errorf("%w: %w", ErrStreamTruncated, err)
	}
	switch string(f.messageType) {
	case "event":
		return s.decodeEvent(f.eventType, f.payload, ev)
	case "exception":
		s.done = true
		return exceptionError(string(f.exceptionType), f.payload)
	case "error":
		s.done = true
		return &APIError{Code: string(f.errorCode), Message: string(f.errorMessage)}
	}
	return fmt.Errorf("bedrock: unknown eventstream message type %q", f.messageType)
}

// Close releases the connection; closing early cancels the rest of the answer.
func (s *Stream) Close() error { return s.body.Close() }

// An eventstream message: a 12-byte prelude (total length, headers length,
// prelude CRC), headers, payload, and the CRC32 of everything before it.
const (
	preludeLen    = 12
	minFrameLen   = preludeLen + 4
	maxHeadersLen = 128 << 10 // the limits of the AWS SDKs' decoders
	maxPayloadLen = 16 << 20
)

// frame is one decoded message: the headers a Bedrock stream uses, and the
// payload. Every slice points into the frameReader's buffer, valid until
// the next frame is read.
type frame struct {
	messageType, eventType, exceptionType, errorCode, errorMessage []byte
	payload                                                        []byte
}

// frameReader reads eventstream messages into one reused buffer. It does
// the work of the AWS SDK's decoder without building a header map per
// message: that map and its strings were most of the allocations of a
// streamed event.
type frameReader struct {
	r   io.Reader
	buf []byte
}

// next reads one message into f. It returns io.EOF only when the stream
// ends cleanly between messages.
func (fr *frameReader) next(f *frame) error {
	if cap(fr.buf) < preludeLen {
		fr.buf = make([]byte, 0, 1024)
	}
	prelude := fr.buf[:preludeLen]
	if _, err := io.ReadFull(fr.r, prelude); err != nil {
		return err // io.EOF between messages, io.ErrUnexpectedEOF inside one
	}
	total := binary.BigEndian.Uint32(prelude[0:4])
	headersLen := binary.BigEndian.Uint32(prelude[4:8])
	if crc32.ChecksumIEEE(prelude[:8]) != binary.BigEndian.Uint32(prelude[8:12]) {
		return errors.New("eventstream: prelude checksum mismatch")
	}
	if total < minFrameLen || headersLen > maxHeadersLen || headersLen > total-minFrameLen || total-minFrameLen-headersLen > maxPayloadLen {
		return fmt.Errorf("eventstream: invalid message lengths (message %d, headers %d)", total, headersLen)
	}
	if cap(fr.buf) < int(total) {
		grown := make([]byte, total)
		copy(grown, prelude)
		fr.buf = grown[:0]
	}
	msg := fr.buf[:total]
	if _, err := io.ReadFull(fr.r, msg[preludeLen:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if crc32.ChecksumIEEE(msg[:total-4]) != binary.BigEndian.Uint32(msg[total-4:]) {
		return errors.New("eventstream: message checksum mismatch")
	}
	*f = frame{payload: msg[preludeLen+headersLen : total-4]}
	return f.parseHeaders(msg[preludeLen : preludeLen+headersLen])
}

// Header value types of the eventstream encoding.
const (
	valueTrue = iota
	valueFalse
	valueByte
	valueInt16
	valueInt32
	valueInt64
	valueBytes
	valueString
	valueTimestamp
	valueUUID
)

var errHeaders = errors.New("eventstream: malformed headers")

// parseHeaders walks the headers, keeping the string ones a Bedrock
// stream uses and skipping the rest.
func (f *frame) parseHeaders(h []byte) error {
	for len(h) > 0 {
		nameLen := int(h[0])
		if len(h) < 2+nameLen {
			return errHeaders
		}
		name, typ := h[1:1+nameLen], h[1+nameLen]
		h = h[2+nameLen:]
		var size int
		switch typ {
		case valueTrue, valueFalse:
		case valueByte:
			size = 1
		case valueInt16:
			size = 2
		case valueInt32:
			size = 4
		case valueInt64, valueTimestamp:
			size = 8
		case valueUUID:
			size = 16
		case valueBytes, valueString:
			if len(h) < 2 {
				return errHeaders
			}
			n := int(binary.BigEndian.Uint16(h))
			if len(h) < 2+n {
				return errHeaders
			}
			value := h[2 : 2+n]
			h = h[2+n:]
			if typ == valueString {
				f.setHeader(name, value)
			}
			continue
		default:
			return fmt.Errorf("eventstream: unknown header value type %d", typ)
		}
		if len(h) < size {
			return errHeaders
		}
		h = h[size:]
	}
	return nil
}

func (f *frame) setHeader(name, value []byte) {
	switch string(name) {
	case ":message-type":
		f.messageType = value
	case ":event-type":
		f.eventType = value
	case ":exception-type":
		f.exceptionType = value
	case ":error-code":
		f.errorCode = value
	case ":error-message":
		f.errorMessage = value
	}
}

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
func (s *Stream) decodeEvent(eventType, payload []byte, ev *StreamEvent) error {
	*ev = StreamEvent{}
	e := &s.events
	var target any
	switch string(eventType) {
	case EventMessageStart:
		e.messageStart = MessageStartEvent{}
		ev.MessageStart, target = &e.messageStart, &e.messageStart
	case EventContentBlockStart:
		e.blockStart = ContentBlockStartEvent{}
		ev.ContentBlockStart, target = &e.blockStart, &e.blockStart
	case EventContentBlockDelta:
		e.blockDelta = ContentBlockDeltaEvent{}
		ev.ContentBlockDelta, target = &e.blockDelta, &e.blockDelta
	case EventContentBlockStop:
		e.blockStop = ContentBlockStopEvent{}
		ev.ContentBlockStop, target = &e.blockStop, &e.blockStop
	case EventMessageStop:
		e.messageStop = MessageStopEvent{}
		ev.MessageStop, target = &e.messageStop, &e.messageStop
	case EventMetadata:
		e.metadata = MetadataEvent{}
		ev.Metadata, target = &e.metadata, &e.metadata
	default:
		return nil
	}
	if err := json.Unmarshal(payload, target); err != nil {
		return fmt.Errorf("bedrock: decode %s event: %w", eventType, err)
	}
	return nil
}
