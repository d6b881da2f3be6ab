package bedrock

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Headers in which Bedrock reports an InvokeModel call's token counts.
const (
	HeaderInputTokens  = "X-Amzn-Bedrock-Input-Token-Count"
	HeaderOutputTokens = "X-Amzn-Bedrock-Output-Token-Count"
)

// Headers that carry InvokeModel's serviceTier and performanceConfigLatency,
// both ways: asked for in the request, served in the answer
// (bedrock-runtime's API model puts them there, not in the body).
const (
	HeaderServiceTier = "X-Amzn-Bedrock-Service-Tier"
	HeaderLatency     = "X-Amzn-Bedrock-PerformanceConfig-Latency"
)

// InvokeOptions are InvokeModel's parameters beside the native body; ""
// sends none.
type InvokeOptions struct {
	ServiceTier string // priority | default | flex | reserved
	Latency     string // standard | optimized
}

func (o InvokeOptions) header() http.Header {
	if o == (InvokeOptions{}) {
		return nil
	}
	h := http.Header{}
	if o.ServiceTier != "" {
		h.Set(HeaderServiceTier, o.ServiceTier)
	}
	if o.Latency != "" {
		h.Set(HeaderLatency, o.Latency)
	}
	return h
}

// InvokeResponse is an InvokeModel answer: the model-native body, the
// token counts Bedrock reports beside it (zero when absent) and the tier
// and latency profile it served ("" when it did not say).
type InvokeResponse struct {
	Body         []byte
	InputTokens  int
	OutputTokens int
	ServiceTier  string
	Latency      string
}

// Invoke calls InvokeModel with a model-native body. It keeps the token
// counts from the response headers, which some families (Cohere, Mistral,
// every embedding model but Titan's) report nowhere else.
func (c *Client) Invoke(ctx context.Context, modelID string, body []byte) (*InvokeResponse, error) {
	return c.InvokeWith(ctx, modelID, body, InvokeOptions{})
}

// InvokeWith is Invoke with a service tier or latency profile.
func (c *Client) InvokeWith(ctx context.Context, modelID string, body []byte, opts InvokeOptions) (*InvokeResponse, error) {
	resp, err := c.doWith(ctx, modelID, "invoke", "application/json", body, opts.header())
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
		ServiceTier:  resp.Header.Get(HeaderServiceTier),
		Latency:      resp.Header.Get(HeaderLatency),
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
	return c.InvokeStreamWith(ctx, modelID, body, InvokeOptions{})
}

// InvokeStreamWith is InvokeStream with a service tier or latency profile.
func (c *Client) InvokeStreamWith(ctx context.Context, modelID string, body []byte, opts InvokeOptions) (*InvokeChunks, error) {
	resp, err := c.doWith(ctx, modelID, "invoke-with-response-stream", "application/vnd.amazon.eventstream", body, opts.header())
	if err != nil {
		return nil, err
	}
	s := NewInvokeChunks(resp.Body)
	s.ServiceTier, s.Latency = resp.Header.Get(HeaderServiceTier), resp.Header.Get(HeaderLatency)
	return s, nil
}

// InvokeChunks reads an InvokeModelWithResponseStream answer: eventstream
// frames whose "chunk" events carry {"bytes": <base64 of the model's native
// JSON chunk>}. It is not safe for concurrent use.
type InvokeChunks struct {
	body   io.ReadCloser
	frames frames
	// ServiceTier and Latency are what the answer's headers say was
	// served; "" when they did not say.
	ServiceTier, Latency string
}

// NewInvokeChunks reads chunks from r; for tests and tools holding an
// eventstream body from elsewhere.
func NewInvokeChunks(r io.ReadCloser) *InvokeChunks {
	return &InvokeChunks{body: r, frames: newFrames(r)}
}

// InvokeChunkEvent is the event type of a model chunk.
const InvokeChunkEvent = "chunk"

// Next returns the next model-native chunk. It returns io.EOF after the last
// one, *APIError for an exception frame, and ErrStreamTruncated (wrapped)
// when the connection broke mid-frame; events of other types are skipped.
func (s *InvokeChunks) Next() ([]byte, error) {
	for {
		eventType, payload, err := s.frames.next()
		if err != nil {
			return nil, err
		}
		if eventType != InvokeChunkEvent {
			continue
		}
		var chunk struct {
			Bytes []byte `json:"bytes"`
		}
		if err := json.Unmarshal(payload, &chunk); err != nil {
			return nil, fmt.Errorf("bedrock: decode invoke chunk: %w", err)
		}
		return chunk.Bytes, nil
	}
}

// BeforeWait sets f to run whenever reading the next chunk has to wait for
// more of the answer from Bedrock (see Stream.BeforeWait).
func (s *InvokeChunks) BeforeWait(f func()) { s.frames.beforeWait(f) }

// Close releases the connection; closing early cancels the rest of the answer.
func (s *InvokeChunks) Close() error { return s.body.Close() }
