package bedrock

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// frames reads AWS eventstream messages with the AWS SDK's decoder, which
// checks every frame's prelude and message CRC, into one reused buffer. It
// turns exception and error frames into *APIError and tells a stream that
// ended between frames (io.EOF) from one cut inside a frame.
//
// Frames are read through a buffer, so that frames which arrived together
// are decoded without going back to the connection, and the reader can say
// when the next frame has to be waited for (see beforeWait).
type frames struct {
	src     *waitingReader
	in      countingReader
	dec     *eventstream.Decoder
	payload []byte
	done    bool
}

// frameBufferSize holds a burst of typical events (100-300 bytes each);
// larger frames are read past it.
const frameBufferSize = 4 << 10

func newFrames(r io.Reader) frames {
	src := &waitingReader{r: r}
	return frames{
		src:     src,
		in:      countingReader{r: bufio.NewReaderSize(src, frameBufferSize)},
		dec:     eventstream.NewDecoder(),
		payload: make([]byte, 0, 4096),
	}
}

// beforeWait sets f to run each time the next bytes must come from the
// connection rather than the buffer: the frames read so far are all
// handled, and what they produced can be flushed before the wait.
func (f *frames) beforeWait(fn func()) { f.src.before = fn }

// next returns the next event's type and payload. The payload is valid
// until the next call.
func (f *frames) next() (eventType string, payload []byte, err error) {
	if f.done {
		return "", nil, io.EOF
	}
	f.in.n = 0
	msg, err := f.dec.Decode(&f.in, f.payload[:0])
	if err != nil {
		f.done = true
		if errors.Is(err, io.EOF) && f.in.n == 0 {
			return "", nil, io.EOF // the stream ended between frames
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return "", nil, fmt.Errorf("%w: %w", ErrStreamTruncated, err)
	}
	if cap(msg.Payload) > cap(f.payload) {
		f.payload = msg.Payload[:0] // keep the larger buffer for the frames to come
	}
	switch messageType := headerString(msg.Headers, ":message-type"); messageType {
	case "event":
		return headerString(msg.Headers, ":event-type"), msg.Payload, nil
	case "exception":
		f.done = true
		return "", nil, exceptionError(headerString(msg.Headers, ":exception-type"), msg.Payload)
	case "error":
		f.done = true
		return "", nil, &APIError{Code: headerString(msg.Headers, ":error-code"), Message: headerString(msg.Headers, ":error-message")}
	default:
		f.done = true
		return "", nil, fmt.Errorf("bedrock: unknown eventstream message type %q", messageType)
	}
}

// countingReader counts the bytes read through it, so that an end of input
// inside a frame can be told from one between frames: the SDK's decoder
// reports both as io.EOF.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// waitingReader calls before, if set, ahead of every read of r.
type waitingReader struct {
	r      io.Reader
	before func()
}

func (w *waitingReader) Read(p []byte) (int, error) {
	if w.before != nil {
		w.before()
	}
	return w.r.Read(p)
}

// Stream reads a ConverseStream answer, one event at a time. It is not safe
// for concurrent use.
type Stream struct {
	body   io.ReadCloser
	frames frames
	events eventStore
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
	return &Stream{body: body, frames: newFrames(body)}
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
// or a frame that fails its checks.
func (s *Stream) Next(ev *StreamEvent) error {
	eventType, payload, err := s.frames.next()
	if err != nil {
		return err
	}
	return s.decodeEvent(eventType, payload, ev)
}

// BeforeWait sets f to run whenever reading the next event has to wait for
// more of the answer from Bedrock. A relay flushes there: events that arrived
// together go out together, and none is held while Bedrock is awaited.
func (s *Stream) BeforeWait(f func()) { s.frames.beforeWait(f) }

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
func (s *Stream) decodeEvent(eventType string, payload []byte, ev *StreamEvent) error {
	*ev = StreamEvent{}
	e := &s.events
	var target any
	switch eventType {
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
