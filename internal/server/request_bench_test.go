package server

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/metrics"
	"github.com/strata-gateway/strata/internal/router"
	"github.com/strata-gateway/strata/internal/translate"
)

// BenchmarkChatRequest is a whole chat request through the handler as the
// gateway serves it (default settings, metrics, the access log at info),
// with Bedrock answering in process from fixed bytes: what it counts is
// the gateway's own work, its allocations included, without the sockets'
// or an upstream's. "answer" is a whole answer; "stream-N" a stream of N
// events, so that (stream-50 - stream-10) / 40 is the cost of one event.
func BenchmarkChatRequest(b *testing.B) {
	const (
		body       = `{"model":"bench","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"this is a test request, write a short poem about the sea and the sky"}],"temperature":0.7,"max_tokens":300}`
		streamBody = `{"model":"bench","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"this is a test request, write a short poem about the sea and the sky"}],"temperature":0.7,"max_tokens":300,"stream":true,"stream_options":{"include_usage":true}}`
	)
	for _, c := range []struct {
		name   string
		body   string
		events int
	}{
		{"answer", body, 0},
		{"stream-10", streamBody, 10},
		{"stream-50", streamBody, 50},
	} {
		b.Run(c.name, func(b *testing.B) {
			srv := newBenchServer(b, c.events)
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(c.body))
				req.Header.Set("Content-Type", "application/json")
				w := deadlineRecorder{httptest.NewRecorder()}
				srv.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

// deadlineRecorder takes read and write deadlines, as a connection's
// ResponseWriter does, so that setting one costs what it costs there
// rather than building net/http's "not supported" error.
type deadlineRecorder struct{ *httptest.ResponseRecorder }

func (deadlineRecorder) SetReadDeadline(time.Time) error  { return nil }
func (deadlineRecorder) SetWriteDeadline(time.Time) error { return nil }

// newBenchServer is a gateway of one deployment whose Bedrock answers
// from fixed bytes: a Converse answer, or a ConverseStream of events.
func newBenchServer(b *testing.B, events int) *Server {
	b.Helper()
	frames, err := benchStreamFrames(events)
	if err != nil {
		b.Fatal(err)
	}
	client, err := bedrock.NewClient(bedrock.ClientOptions{
		Region: testRegion, Endpoint: "http://bedrock.invalid",
		Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, ""),
		HTTPClient:  &http.Client{Transport: fixedBedrock{stream: frames}},
	})
	if err != nil {
		b.Fatal(err)
	}
	const model = "anthropic.claude-3-5-sonnet-20240620-v1:0"
	targets, _, err := translate.NewTargets(model, "", nil, false)
	if err != nil {
		b.Fatal(err)
	}
	d := &router.Deployment{
		Name: "bench", ID: "bench#1", BaseModel: model, ModelID: model, Client: client,
		Chat: targets.Chat, API: targets.Family.API, Route: targets.Route, Invoke: targets.Invoke,
	}
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	rt, err := router.New([]*router.Deployment{d}, router.Options{Logger: log, Metrics: m})
	if err != nil {
		b.Fatal(err)
	}
	return New(Options{Router: rt, Logger: log, Metrics: m, RequestBodyTimeout: 60e9, StreamWriteTimeout: 30e9})
}

// fixedBedrock answers every Converse call with the same answer and every
// ConverseStream call with the same frames.
type fixedBedrock struct{ stream []byte }

var benchConverseAnswer = []byte(`{"output":{"message":{"role":"assistant","content":[{"text":"The sea is wide, the sky is high; between them sails a gull gone by."}]}},"stopReason":"end_turn","usage":{"inputTokens":25,"outputTokens":18,"totalTokens":43},"metrics":{"latencyMs":420}}`)

func (f fixedBedrock) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	answer, typ := benchConverseAnswer, "application/json"
	if strings.HasSuffix(r.URL.Path, "/converse-stream") {
		answer, typ = f.stream, "application/vnd.amazon.eventstream"
	}
	return &http.Response{
		StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {typ}},
		Body:          io.NopCloser(bytes.NewReader(answer)),
		ContentLength: int64(len(answer)),
		Request:       r,
	}, nil
}

// benchStreamFrames is a ConverseStream answer of n events as Bedrock
// sends it: the message start, text deltas, the block stop, the message
// stop and the metadata, each with Bedrock's "p" padding.
func benchStreamFrames(n int) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	const pad = `"p":"abcdefghijklmnopqrstuvwxyzABCDEFGH"`
	words := strings.Fields("the sea is wide and the sky is high between them sails a gull gone by")
	type event struct{ typ, payload string }
	events := []event{{"messageStart", `{"role":"assistant",` + pad + `}`}}
	for i := 0; len(events) < n-3; i++ {
		events = append(events, event{"contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":" ` + words[i%len(words)] + `"},` + pad + `}`})
	}
	events = append(events,
		event{"contentBlockStop", `{"contentBlockIndex":0,` + pad + `}`},
		event{"messageStop", `{"stopReason":"end_turn",` + pad + `}`},
		event{"metadata", `{"usage":{"inputTokens":25,"outputTokens":46,"totalTokens":71},"metrics":{"latencyMs":420},` + pad + `}`},
	)
	var buf bytes.Buffer
	enc := eventstream.NewEncoder()
	for _, ev := range events {
		var msg eventstream.Message
		msg.Headers.Set(":event-type", eventstream.StringValue(ev.typ))
		msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
		msg.Headers.Set(":message-type", eventstream.StringValue("event"))
		msg.Payload = []byte(ev.payload)
		if err := enc.Encode(&buf, msg); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}
