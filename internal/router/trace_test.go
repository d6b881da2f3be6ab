package router

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// Every attempt is a client span of its own under the request's span:
// retries and fallbacks show as separate attempts, each failed one with
// the Bedrock exception that failed it.
func TestAttemptSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	f := newFixture(t, Options{NumRetries: 1, Fallbacks: map[string][]string{"a": {"b"}}, Tracer: tp.Tracer("test")},
		dep("a", Policy{}), dep("b", Policy{}))
	f.byID["a#1"].BaseModel, f.byID["a#1"].ModelID = "anthropic.claude-3-haiku-20240307-v1:0", "anthropic.claude-3-haiku-20240307-v1:0"
	f.byID["b#1"].BaseModel, f.byID["b#1"].ModelID = "amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0"

	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	c, tally, err := f.r.Do(ctx, Request{Model: "a"}, func(ctx context.Context, c *Call) error {
		if trace.SpanFromContext(ctx).SpanContext().SpanID() == parent.SpanContext().SpanID() {
			t.Error("the attempt's context does not carry the attempt's span")
		}
		if c.Deployment.ID == "a#1" {
			return throttled
		}
		return nil
	})
	if err != nil || tally.Retries != 1 || tally.Fallbacks != 1 {
		t.Fatalf("tally %+v, err %v", tally, err)
	}
	c.Finish(Usage{InputTokens: 12, OutputTokens: 7}, nil)
	parent.End()

	type want struct {
		name, deployment, errType string
		attempt                   int
		in, out                   int
	}
	wants := []want{
		{"chat anthropic.claude-3-haiku-20240307-v1:0", "a#1", "ThrottlingException", 1, 0, 0},
		{"chat anthropic.claude-3-haiku-20240307-v1:0", "a#1", "ThrottlingException", 2, 0, 0},
		{"chat amazon.nova-lite-v1:0", "b#1", "", 3, 12, 7},
	}
	spans := rec.Ended()
	if len(spans) != len(wants)+1 {
		t.Fatalf("%d spans ended, want %d", len(spans), len(wants)+1)
	}
	for i, w := range wants {
		s := spans[i]
		attrs := map[attribute.Key]attribute.Value{}
		for _, kv := range s.Attributes() {
			attrs[kv.Key] = kv.Value
		}
		if s.Name() != w.name || s.SpanKind() != trace.SpanKindClient || s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %d: %q kind %v parent %v, want %q, a client child of the request", i, s.Name(), s.SpanKind(), s.Parent().SpanID(), w.name)
		}
		if attrs["strata.deployment"].AsString() != w.deployment || attrs["strata.attempt"].AsInt64() != int64(w.attempt) ||
			attrs["gen_ai.provider.name"].AsString() != "aws.bedrock" || attrs["gen_ai.operation.name"].AsString() != "chat" {
			t.Errorf("span %d attributes: %v", i, s.Attributes())
		}
		if got := attrs["error.type"].AsString(); got != w.errType {
			t.Errorf("span %d error.type %q, want %q", i, got, w.errType)
		}
		if (s.Status().Code == codes.Error) != (w.errType != "") {
			t.Errorf("span %d status %v", i, s.Status())
		}
		if attrs["gen_ai.usage.input_tokens"].AsInt64() != int64(w.in) || attrs["gen_ai.usage.output_tokens"].AsInt64() != int64(w.out) {
			t.Errorf("span %d usage: %v", i, s.Attributes())
		}
		for _, kv := range s.Attributes() {
			if v := kv.Value.Emit(); v == throttled.Message {
				t.Errorf("span %d carries the upstream message in %s", i, kv.Key)
			}
		}
	}
}
