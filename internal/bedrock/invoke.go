package bedrock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// Headers in which Bedrock reports an InvokeModel call's token counts.
const (
	HeaderInputTokens  = "X-Amzn-Bedrock-Input-Token-Count"
	HeaderOutputTokens = "X-Amzn-Bedrock-Output-Token-Count"
)

// InvokeResponse is an InvokeModel answer: the model-native body and the
// token counts Bedrock reports beside it (zero when absent).
type InvokeResponse struct {
	Body         []byte
	InputTokens  int
	OutputTokens int
}

// Invoke calls InvokeModel with a model-native body. Unlike InvokeModel it
// keeps the token counts from the response headers, which some families
// (Cohere, Mistral, every embedding model but Titan's) report nowhere else.
func (c *Client) Invoke(ctx context.Context, modelID string, body []byte) (*InvokeResponse, error) {
	resp, err := c.do(ctx, modelID, "invoke", "application/json", body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &TransportError{Err: fmt.Errorf("read invoke response: %w", err)}
	}
	return &InvokeResponse{
		Body:         out,
		InputTokens:  headerInt(resp.Header, HeaderInputTokens),
		OutputTokens: headerInt(resp.Header, HeaderOutputTokens),
	}, nil
}

func headerInt(h http.Header, name string) int {
	n, err := strconv.Atoi(h.Get(name))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// InvokeStream calls InvokeModelWithResponseStream. Errors Bedrock reports
// before the stream starts come back here; later ones from Next.
func (c *Client) InvokeStream(ctx context.Context, modelID string, body []byte) (*InvokeChunks, error) {
	resp, err := c.do(ctx, modelID, "invoke-with-response-stream", "application/vnd.amazon.eventstream", body)
	if err != nil {
		return nil, err
	}
	return NewInvokeChunks(resp.Body), nil
}

// InvokeChunks reads an InvokeModelWithResponseStream answer: eventstream
// frames whose "chunk" events carry {"bytes": <base64 of the model's native
// JSON chunk>}. It is not safe for concurrent use.
type InvokeChunks struct {
	body    io.ReadCloser
	dec     *eventstream.Decoder
	payload []byte // reused frame buffer
	done    bool
}

// NewInvokeChunks reads chunks from r; for tests and tools holding an
// eventstream body from elsewhere.
func NewInvokeChunks(r io.ReadCloser) *InvokeChunks {
	return &InvokeChunks{body: r, dec: eventstream.NewDecoder(), payload: make([]byte, 0, 4096)}
}

// InvokeChunkEvent is the event type of a model chunk.
const InvokeChunkEvent = "chunk"

// Next returns the next model-native chunk. It returns io.EOF after the last
// one, *APIError for an exception frame, and ErrStreamTruncated (wrapped)
// when the connection broke mid-frame. Frames are CRC-checked by the
// decoder; events of other types are skipped.
func (s *InvokeChunks) Next() ([]byte, error) {
	for {
		if s.done {
			return nil, io.EOF
		}
		msg, err := s.dec.Decode(s.body, s.payload[:0])
		if err != nil {
			s.done = true
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("%w: %w", ErrStreamTruncated, err)
		}
		if cap(msg.Payload) > cap(s.payload) {
			s.payload = msg.Payload[:0]
		}
		switch invokeHeader(msg.Headers, ":message-type") {
		case "event":
			if invokeHeader(msg.Headers, ":event-type") != InvokeChunkEvent {
				continue
			}
			var chunk struct {
				Bytes []byte `json:"bytes"`
			}
			if err := json.Unmarshal(msg.Payload, &chunk); err != nil {
				return nil, fmt.Errorf("bedrock: decode invoke chunk: %w", err)
			}
			return chunk.Bytes, nil
		case "exception":
			s.done = true
			return nil, invokeException(invokeHeader(msg.Headers, ":exception-type"), msg.Payload)
		case "error":
			s.done = true
			return nil, &APIError{Code: invokeHeader(msg.Headers, ":error-code"), Message: invokeHeader(msg.Headers, ":error-message")}
		default:
			return nil, fmt.Errorf("bedrock: unknown eventstream message type %q", invokeHeader(msg.Headers, ":message-type"))
		}
	}
}

// Close releases the connection; closing early cancels the rest of the answer.
func (s *InvokeChunks) Close() error { return s.body.Close() }

// invokeHeader reads a string header of a frame.
func invokeHeader(h eventstream.Headers, name string) string {
	v := h.Get(name)
	if v == nil {
		return ""
	}
	if sv, ok := v.(eventstream.StringValue); ok {
		return string(sv)
	}
	return v.String()
}

// invokeException is the *APIError an exception frame carries.
func invokeException(exType string, payload []byte) *APIError {
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
