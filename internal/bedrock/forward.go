package bedrock

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// Operations a pass-through may forward, by the last segment of their path.
var forwardable = map[string]bool{
	"converse": true, "converse-stream": true, "invoke": true, "invoke-with-response-stream": true, "count-tokens": true,
}

// Forwardable reports whether operation is a Bedrock runtime call a
// pass-through may forward.
func Forwardable(operation string) bool { return forwardable[operation] }

// forwardedHeaders are the request headers of a pass-through that Bedrock
// reads; everything else the client sent (its own signature above all)
// stays behind.
var forwardedHeaders = []string{
	"Content-Type", "Accept",
	"X-Amzn-Bedrock-Accept", "X-Amzn-Bedrock-Content-Type",
	"X-Amzn-Bedrock-Trace", "X-Amzn-Bedrock-GuardrailIdentifier", "X-Amzn-Bedrock-GuardrailVersion",
	"X-Amzn-Bedrock-PerformanceConfig-Latency", "X-Amzn-Bedrock-Service-Tier",
}

// Forward sends body, as it is, to operation on modelID, authorized with
// this client's API key or signed with its credentials and region. The answer is Bedrock's, whatever its
// status: the caller relays it. A transport failure is a *TransportError.
func (c *Client) Forward(ctx context.Context, modelID, operation string, header http.Header, body []byte) (*http.Response, error) {
	u, err := c.callURL(modelID, operation)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("bedrock: build request: %w", err)
	}
	req.URL, req.Host = &u, u.Host
	for _, h := range forwardedHeaders {
		if v := header.Values(h); len(v) > 0 {
			req.Header[http.CanonicalHeaderKey(h)] = v
		}
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if err := c.authorize(ctx, req, body); err != nil {
		return nil, err
	}
	resp, err := c.roundTrip(req)
	if err != nil {
		return nil, &TransportError{Err: err}
	}
	return resp, nil
}

// APIErrorOf reads a non-2xx answer's exception, as the other calls do.
func APIErrorOf(status int, header http.Header, body []byte) *APIError {
	return apiErrorFromResponse(&http.Response{StatusCode: status, Header: header, Body: nopBody{bytes.NewReader(body)}})
}

type nopBody struct{ *bytes.Reader }

func (nopBody) Close() error { return nil }

// UsageTap reads the token counts out of an answer passed through: a
// Converse body, an eventstream (ConverseStream's metadata event, or the
// Anthropic events and invocation metrics of InvokeModelWithResponseStream)
// fed in whatever pieces it arrives. It never changes what it reads.
type UsageTap struct {
	Input, Output, CacheRead, CacheWrite int
	Found                                bool

	pending []byte
	dec     *eventstream.Decoder
	failed  bool
}

// Body reads a whole JSON answer: Converse's usage, or an Anthropic
// message's.
func (t *UsageTap) Body(body []byte) {
	var m struct {
		Usage *struct {
			InputTokens           int `json:"inputTokens"`
			OutputTokens          int `json:"outputTokens"`
			CacheReadInputTokens  int `json:"cacheReadInputTokens"`
			CacheWriteInputTokens int `json:"cacheWriteInputTokens"`

			AInput      int `json:"input_tokens"`
			AOutput     int `json:"output_tokens"`
			ACacheRead  int `json:"cache_read_input_tokens"`
			ACacheWrite int `json:"cache_creation_input_tokens"`
		} `json:"usage"`
	}
	if json.Unmarshal(body, &m) != nil || m.Usage == nil {
		return
	}
	u := m.Usage
	t.Found = true
	t.Input, t.Output = u.InputTokens+u.AInput, u.OutputTokens+u.AOutput
	t.CacheRead, t.CacheWrite = u.CacheReadInputTokens+u.ACacheRead, u.CacheWriteInputTokens+u.ACacheWrite
}

// Write takes the next piece of an eventstream answer.
func (t *UsageTap) Write(p []byte) (int, error) {
	if t.failed {
		return len(p), nil
	}
	t.pending = append(t.pending, p...)
	for len(t.pending) >= 4 {
		total := int(binary.BigEndian.Uint32(t.pending))
		if total < 16 || total > 16<<20 {
			t.failed = true // not an eventstream we can follow; the client still gets it
			return len(p), nil
		}
		if len(t.pending) < total {
			break
		}
		if t.dec == nil {
			t.dec = eventstream.NewDecoder()
		}
		msg, err := t.dec.Decode(bytes.NewReader(t.pending[:total]), nil)
		t.pending = t.pending[total:]
		if err != nil {
			t.failed = true
			return len(p), nil
		}
		t.event(headerString(msg.Headers, ":event-type"), msg.Payload)
	}
	if len(t.pending) == 0 {
		t.pending = t.pending[:0:0] // let a large buffer go
	}
	return len(p), nil
}

func (t *UsageTap) event(eventType string, payload []byte) {
	switch eventType {
	case EventMetadata:
		var m MetadataEvent
		if json.Unmarshal(payload, &m) == nil {
			t.Found = true
			t.Input, t.Output = m.Usage.InputTokens, m.Usage.OutputTokens
			t.CacheRead, t.CacheWrite = m.Usage.CacheReadInputTokens, m.Usage.CacheWriteInputTokens
		}
	case InvokeChunkEvent:
		var chunk struct {
			Bytes []byte `json:"bytes"`
		}
		if json.Unmarshal(payload, &chunk) != nil {
			return
		}
		var ev struct {
			Message *struct {
				Usage map[string]int `json:"usage"`
			} `json:"message"`
			Usage   map[string]int `json:"usage"`
			Metrics *struct {
				Input  int `json:"inputTokenCount"`
				Output int `json:"outputTokenCount"`
			} `json:"amazon-bedrock-invocationMetrics"`
		}
		if json.Unmarshal(chunk.Bytes, &ev) != nil {
			return
		}
		usage := ev.Usage
		if ev.Message != nil {
			usage = ev.Message.Usage
		}
		if v, ok := usage["input_tokens"]; ok {
			t.Input, t.Found = v, true
		}
		if v, ok := usage["output_tokens"]; ok {
			t.Output, t.Found = v, true
		}
		if v, ok := usage["cache_read_input_tokens"]; ok {
			t.CacheRead = v
		}
		if v, ok := usage["cache_creation_input_tokens"]; ok {
			t.CacheWrite = v
		}
		if m := ev.Metrics; m != nil && !t.Found {
			t.Input, t.Output, t.Found = m.Input, m.Output, true
		}
	}
}
