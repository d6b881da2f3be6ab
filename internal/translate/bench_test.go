package translate_test

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/translate"
)

var benchRequest = []byte(`{"model":"bedrock-claude","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"this is a test request, write a short poem about the sea and the sky"}],"temperature":0.7,"max_tokens":300,"top_k":1}`)

var benchResponse = []byte(`{"output":{"message":{"role":"assistant","content":[{"text":"The sea is wide, the sky is high; between them sails a gull gone by."}]}},"stopReason":"end_turn","usage":{"inputTokens":25,"outputTokens":18,"totalTokens":43},"metrics":{"latencyMs":420}}`)

// The non-streaming request path: decode the client's JSON, translate,
// encode the Converse body.
func BenchmarkRequestPath(b *testing.B) {
	target, err := translate.NewChatTarget("anthropic.claude-3-5-sonnet-20240620-v1:0", map[string]any{"temperature": 0.2}, false)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchRequest)))
	for b.Loop() {
		var req openai.ChatRequest
		if err := json.Unmarshal(benchRequest, &req); err != nil {
			b.Fatal(err)
		}
		call, err := translate.ConverseFromChat(&req, target)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(call.Request); err != nil {
			b.Fatal(err)
		}
	}
}

// The non-streaming answer path: decode Converse's JSON, translate, encode
// the chat.completion.
func BenchmarkResponsePath(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchResponse)))
	for b.Loop() {
		var resp bedrock.ConverseResponse
		if err := json.Unmarshal(benchResponse, &resp); err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(translate.ChatFromConverse(&resp, fixedMeta)); err != nil {
			b.Fatal(err)
		}
	}
}

// One stream event: decode an eventstream frame, translate it, encode the
// SSE chunk. Allocations per event must stay small and constant.
func BenchmarkStreamEvent(b *testing.B) {
	var frame bytes.Buffer
	msg := eventstream.Message{Payload: []byte(`{"contentBlockIndex":0,"delta":{"text":" sea"},"p":"abcdefghijklmnopqrstu"}`)}
	msg.Headers.Set(":event-type", eventstream.StringValue("contentBlockDelta"))
	msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	msg.Headers.Set(":message-type", eventstream.StringValue("event"))
	if err := eventstream.NewEncoder().Encode(&frame, msg); err != nil {
		b.Fatal(err)
	}
	r := &repeatReader{frame: frame.Bytes()}
	stream := bedrock.NewStreamReader(io.NopCloser(r))
	tr := translate.NewChatStream(fixedMeta, false)
	// The SSE line as the server writes it.
	var line []byte
	emit := func(c *openai.ChatChunk) error {
		line = append(c.AppendJSON(append(line[:0], "data: "...)), '\n', '\n')
		return nil
	}
	var ev bedrock.StreamEvent
	b.ReportAllocs()
	b.SetBytes(int64(frame.Len()))
	for b.Loop() {
		if err := stream.Next(&ev); err != nil {
			b.Fatal(err)
		}
		if err := tr.Event(&ev, emit); err != nil {
			b.Fatal(err)
		}
	}
}

// repeatReader serves the same frame forever.
type repeatReader struct {
	frame []byte
	off   int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := copy(p, r.frame[r.off:])
	r.off = (r.off + n) % len(r.frame)
	return n, nil
}

// One stream event of the Responses API: the same frame as
// BenchmarkStreamEvent through the chat stream, then the Responses stream,
// then encoded as the SSE event the server writes.
func BenchmarkResponsesStreamEvent(b *testing.B) {
	var frame bytes.Buffer
	msg := eventstream.Message{Payload: []byte(`{"contentBlockIndex":0,"delta":{"text":" sea"},"p":"abcdefghijklmnopqrstu"}`)}
	msg.Headers.Set(":event-type", eventstream.StringValue("contentBlockDelta"))
	msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	msg.Headers.Set(":message-type", eventstream.StringValue("event"))
	if err := eventstream.NewEncoder().Encode(&frame, msg); err != nil {
		b.Fatal(err)
	}
	stream := bedrock.NewStreamReader(io.NopCloser(&repeatReader{frame: frame.Bytes()}))
	call, err := translate.ChatFromResponses(&openai.ResponsesRequest{Model: "m", Input: openai.Input{Text: new(string)}}, nil, func(p string) string { return p + "_1" })
	if err != nil {
		b.Fatal(err)
	}
	rs := translate.NewResponsesStream(call.NewResponse("resp_1", 1700000000, "m"), call.Answer)
	var line []byte
	emit := func(ev *openai.ResponseEvent) error {
		var err error
		line, err = ev.AppendJSON(append(append(append(line[:0], "event: "...), ev.Type...), "\ndata: "...))
		line = append(line, '\n', '\n')
		return err
	}
	tr := translate.NewChatStream(fixedMeta, false)
	chunk := func(c *openai.ChatChunk) error { return rs.Chunk(c, emit) }
	var ev bedrock.StreamEvent
	b.ReportAllocs()
	b.SetBytes(int64(frame.Len()))
	for b.Loop() {
		if err := stream.Next(&ev); err != nil {
			b.Fatal(err)
		}
		if err := tr.Event(&ev, chunk); err != nil {
			b.Fatal(err)
		}
	}
}
