package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// BenchmarkChatTracing is a whole chat request through the server, the
// router and the Bedrock client to the emulator, with traces off (no
// tracer: what every gateway without callbacks: ["otel"] runs) and on
// (the SDK's batching provider, every request sampled, spans exported to
// nowhere).
func BenchmarkChatTracing(b *testing.B) {
	const body = `{"model":"claude","messages":[{"role":"user","content":"hello"}],"max_tokens":20,"temperature":0.5}`
	for _, c := range []struct {
		name     string
		provider *sdktrace.TracerProvider
	}{
		{"off", nil},
		{"on", sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))},
	} {
		b.Run(c.name, func(b *testing.B) {
			opts := Options{}
			if c.provider != nil {
				opts.Tracer = c.provider.Tracer("bench")
				defer c.provider.Shutdown(context.Background())
			}
			f := newServerFixture(b, opts)
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
				w := httptest.NewRecorder()
				f.srv.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
