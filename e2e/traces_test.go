package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/strata-gateway/strata/internal/emulator"
	"github.com/strata-gateway/strata/internal/store/storetest"
)

// otlpReceiver is an OTLP/HTTP traces endpoint: it decodes every
// ExportTraceServiceRequest the gateway sends and keeps its spans, and the
// raw bodies for what must never be in them.
type otlpReceiver struct {
	URL string

	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string
	raw      bytes.Buffer
}

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	rcv := &otlpReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
			http.Error(w, "not an OTLP traces export: "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(raw, &req); err != nil {
			t.Errorf("OTLP export is not an ExportTraceServiceRequest (%s): %v", r.Header.Get("Content-Type"), err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rcv.mu.Lock()
		rcv.raw.Write(raw)
		for _, rs := range req.ResourceSpans {
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.Key == "service.name" {
					rcv.services = append(rcv.services, kv.Value.GetStringValue())
				}
			}
			for _, ss := range rs.ScopeSpans {
				rcv.spans = append(rcv.spans, ss.Spans...)
			}
		}
		rcv.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	rcv.URL = srv.URL
	return rcv
}

// trace returns the spans of one trace.
func (rcv *otlpReceiver) trace(traceID string) []*tracepb.Span {
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range rcv.spans {
		if hex.EncodeToString(s.TraceId) == traceID {
			out = append(out, s)
		}
	}
	return out
}

func spanAttrs(s *tracepb.Span) map[string]*commonpb.AnyValue {
	m := map[string]*commonpb.AnyValue{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

// traceparent is a W3C traceparent header for a client span of its own.
func traceparent(n int) (header, traceID, spanID string) {
	traceID = fmt.Sprintf("%032x", 0x5151_0000+n)
	spanID = fmt.Sprintf("%016x", 0xc0ffee00+n)
	return "00-" + traceID + "-" + spanID + "-01", traceID, spanID
}

// requestSpan finds the one server span of a trace and its attempts.
func requestSpan(t *testing.T, spans []*tracepb.Span, parentSpanID string) (*tracepb.Span, []*tracepb.Span) {
	t.Helper()
	var server *tracepb.Span
	for _, s := range spans {
		if s.Kind == tracepb.Span_SPAN_KIND_SERVER {
			if server != nil {
				t.Fatalf("two server spans in one trace: %q and %q", server.Name, s.Name)
			}
			server = s
		}
	}
	if server == nil {
		t.Fatalf("no server span among %d spans", len(spans))
	}
	if got := hex.EncodeToString(server.ParentSpanId); got != parentSpanID {
		t.Errorf("request span %q has parent %s, want the client's span %s from traceparent", server.Name, got, parentSpanID)
	}
	var attempts []*tracepb.Span
	for _, s := range spans {
		if s == server {
			continue
		}
		if s.Kind != tracepb.Span_SPAN_KIND_CLIENT || !bytes.Equal(s.ParentSpanId, server.SpanId) {
			t.Errorf("span %q (kind %v) is not a client span under the request span", s.Name, s.Kind)
		}
		attempts = append(attempts, s)
	}
	return server, attempts
}

// wantAttrs checks string, int, float and bool attributes by their
// printed value; "*" only asks that the attribute be there.
func wantAttrs(t *testing.T, s *tracepb.Span, want map[string]string) {
	t.Helper()
	got := spanAttrs(s)
	for k, w := range want {
		v, ok := got[k]
		if !ok {
			t.Errorf("span %q has no %s", s.Name, k)
			continue
		}
		if w == "*" {
			continue
		}
		if g := anyValueString(v); g != w {
			t.Errorf("span %q: %s = %s, want %s", s.Name, k, g, w)
		}
	}
}

func anyValueString(v *commonpb.AnyValue) string {
	switch x := v.Value.(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return fmt.Sprint(x.IntValue)
	case *commonpb.AnyValue_DoubleValue:
		return fmt.Sprint(x.DoubleValue)
	case *commonpb.AnyValue_BoolValue:
		return fmt.Sprint(x.BoolValue)
	case *commonpb.AnyValue_ArrayValue:
		var parts []string
		for _, e := range x.ArrayValue.Values {
			parts = append(parts, anyValueString(e))
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return v.String()
}

func tracesConfig(endpoint, databaseURL, extra string) string {
	return fmt.Sprintf(`model_list:
  - model_name: bedrock-claude
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
      aws_bedrock_runtime_endpoint: %[1]s
      input_cost_per_token: 0.000003
      output_cost_per_token: 0.000015
  - model_name: titan-embed
    litellm_params:
      model: bedrock/amazon.titan-embed-text-v2:0
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
      aws_bedrock_runtime_endpoint: %[1]s
litellm_settings:
  callbacks: ["otel"]
  num_retries: 1
general_settings:
  master_key: os.environ/STRATA_MASTER_KEY
  database_url: %[2]s
%[3]s`, endpoint, databaseURL, extra)
}

// The gateway traces each request it is sent, over OTLP/HTTP to the
// endpoint of OTEL_EXPORTER_OTLP_ENDPOINT: one server span per request,
// the child of the client's traceparent, named and attributed as the
// GenAI conventions say, with a client span per Bedrock attempt. The
// spans still buffered are sent when the gateway stops. Neither the
// prompt, nor the answer, nor a key is in them.
func TestTraces(t *testing.T) {
	rcv := startOTLPReceiver(t)
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, tracesConfig(endpoint, storetest.URL(t, "sqlite"), ""),
		append(keysEnv, "OTEL_EXPORTER_OTLP_ENDPOINT="+rcv.URL, "OTEL_SERVICE_NAME=strata-traces-e2e")...)
	kg := &keyGateway{gateway: g, t: t, em: em}
	var team struct {
		TeamID string `json:"team_id"`
	}
	kg.admin("POST", "/team/new", `{"team_id":"team-traces"}`, &team)
	var key generated
	kg.admin("POST", "/key/generate", `{"team_id":"team-traces","key_alias":"tracer-key"}`, &key)

	const secret = "purple-elephant-prompt-7731" // in every prompt; the emulator echoes it in every answer
	chatTP, chatTrace, chatParent := traceparent(1)
	streamTP, streamTrace, streamParent := traceparent(2)
	embedTP, embedTrace, embedParent := traceparent(3)
	msgTP, msgTrace, msgParent := traceparent(4)

	// A chat whose first attempt is throttled: retried once.
	em.Fault(emulator.Fault{Kind: emulator.FaultThrottling})
	client := g.client(option.WithAPIKey(key.Key))
	completion, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model:       "bedrock-claude",
		Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage("say " + secret)},
		MaxTokens:   openai.Int(50),
		Temperature: openai.Float(0.25),
	}, option.WithHeader("traceparent", chatTP))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(completion.Choices[0].Message.Content, secret) {
		t.Fatalf("the emulator did not echo the prompt: %q", completion.Choices[0].Message.Content)
	}

	stream := client.Chat.Completions.NewStreaming(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model:    "bedrock-claude",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("stream " + secret)},
	}, option.WithHeader("traceparent", streamTP))
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}

	if _, err := client.Embeddings.New(ctxTimeout(t), openai.EmbeddingNewParams{
		Model: "titan-embed",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String(secret)},
	}, option.WithHeader("traceparent", embedTP)); err != nil {
		t.Fatal(err)
	}

	req, _ := http.NewRequest("POST", g.URL+"/v1/messages", strings.NewReader(
		`{"model":"bedrock-claude","max_tokens":64,"messages":[{"role":"user","content":"hello `+secret+`"}]}`))
	req.Header.Set("x-api-key", key.Key)
	req.Header.Set("anthropic-version", "2023-06-01")
	req.Header.Set("traceparent", msgTP)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	msgBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/v1/messages: %d %s", resp.StatusCode, msgBody)
	}

	// Stopping flushes what is still buffered: every span is in now.
	g.stop(t)

	// The chat: the request span, and two attempts, the first throttled.
	server, attempts := requestSpan(t, rcv.trace(chatTrace), chatParent)
	if server.Name != "chat bedrock-claude" {
		t.Errorf("request span named %q, want \"chat bedrock-claude\"", server.Name)
	}
	wantAttrs(t, server, map[string]string{
		"gen_ai.operation.name":          "chat",
		"gen_ai.provider.name":           "aws.bedrock",
		"gen_ai.system":                  "aws.bedrock",
		"gen_ai.request.model":           "bedrock-claude",
		"gen_ai.response.model":          "anthropic.claude-3-5-sonnet-20240620-v1:0",
		"gen_ai.request.max_tokens":      "50",
		"gen_ai.request.temperature":     "0.25",
		"gen_ai.response.finish_reasons": "[stop]",
		"gen_ai.response.id":             completion.ID,
		"gen_ai.usage.input_tokens":      fmt.Sprint(completion.Usage.PromptTokens),
		"gen_ai.usage.output_tokens":     fmt.Sprint(completion.Usage.CompletionTokens),
		"metadata.user_api_key_alias":    "tracer-key",
		"metadata.user_api_key_team_id":  "team-traces",
		"strata.deployment":              "bedrock-claude#1",
		"strata.retries":                 "1",
		"strata.response_cost":           "*",
		"http.response.status_code":      "200",
	})
	if len(attempts) != 2 {
		t.Fatalf("%d attempt spans, want 2 (a throttled one, then the retry)", len(attempts))
	}
	for i, a := range attempts {
		if a.Name != "chat anthropic.claude-3-5-sonnet-20240620-v1:0" {
			t.Errorf("attempt span named %q", a.Name)
		}
		wantAttrs(t, a, map[string]string{"gen_ai.operation.name": "chat", "gen_ai.provider.name": "aws.bedrock",
			"strata.attempt": fmt.Sprint(i + 1), "strata.deployment": "bedrock-claude#1"})
	}
	wantAttrs(t, attempts[0], map[string]string{"error.type": "ThrottlingException"})
	if attempts[0].Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("the throttled attempt's status is %v", attempts[0].Status)
	}
	wantAttrs(t, attempts[1], map[string]string{"gen_ai.usage.output_tokens": fmt.Sprint(completion.Usage.CompletionTokens)})
	if _, failed := spanAttrs(attempts[1])["error.type"]; failed {
		t.Errorf("the served attempt has an error.type")
	}

	// The stream's span ends with the stream: usage and finish reason are on it.
	server, attempts = requestSpan(t, rcv.trace(streamTrace), streamParent)
	wantAttrs(t, server, map[string]string{"gen_ai.operation.name": "chat", "strata.stream": "true",
		"gen_ai.usage.input_tokens": "*", "gen_ai.usage.output_tokens": "*", "gen_ai.response.finish_reasons": "[stop]"})
	if len(attempts) != 1 || server.EndTimeUnixNano < attempts[0].EndTimeUnixNano {
		t.Errorf("stream: %d attempts; the request span must end when the stream does", len(attempts))
	}

	server, attempts = requestSpan(t, rcv.trace(embedTrace), embedParent)
	if server.Name != "embeddings titan-embed" || len(attempts) != 1 || attempts[0].Name != "embeddings amazon.titan-embed-text-v2:0" {
		t.Errorf("embeddings: request span %q, %d attempts", server.Name, len(attempts))
	}
	wantAttrs(t, server, map[string]string{"gen_ai.operation.name": "embeddings", "gen_ai.usage.input_tokens": "*"})

	server, attempts = requestSpan(t, rcv.trace(msgTrace), msgParent)
	if server.Name != "chat bedrock-claude" || len(attempts) != 1 {
		t.Errorf("messages: request span %q, %d attempts", server.Name, len(attempts))
	}
	wantAttrs(t, server, map[string]string{"strata.call_type": "messages", "gen_ai.request.max_tokens": "64",
		"gen_ai.response.id": "*", "gen_ai.response.finish_reasons": "[end_turn]"})

	rcv.mu.Lock()
	raw, services := rcv.raw.String(), rcv.services
	rcv.mu.Unlock()
	if len(services) == 0 || services[0] != "strata-traces-e2e" {
		t.Errorf("service.name %v, want OTEL_SERVICE_NAME's", services)
	}
	for what, s := range map[string]string{"the prompt": secret, "the virtual key": key.Key, "the master key": testMasterKey, "the AWS secret": testSecretKey} {
		if strings.Contains(raw, s) {
			t.Errorf("%s is in the exported spans", what)
		}
	}
}

// callback_settings.otel.message_logging puts the prompt and the answer on
// the request's span, whole answers and streams alike; the keys stay out.
func TestTracesRecordMessagesWhenAsked(t *testing.T) {
	rcv := startOTLPReceiver(t)
	_, endpoint := bedrockEmulator(t)
	g := startGateway(t, tracesConfig(endpoint, storetest.URL(t, "sqlite"), "callback_settings:\n  otel:\n    message_logging: true\n"),
		append(keysEnv, "OTEL_EXPORTER_OTLP_ENDPOINT="+rcv.URL)...)
	client := g.client(option.WithAPIKey(testMasterKey))
	const prompt = "orange-giraffe-prompt-4410"
	wholeTP, wholeTrace, wholeParent := traceparent(11)
	streamTP, streamTrace, streamParent := traceparent(12)
	if _, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model:    "bedrock-claude",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage(prompt)},
	}, option.WithHeader("traceparent", wholeTP)); err != nil {
		t.Fatal(err)
	}
	stream := client.Chat.Completions.NewStreaming(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model:    "bedrock-claude",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
	}, option.WithHeader("traceparent", streamTP))
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	// A streamed Messages API answer, read whole.
	msgTP, msgTrace, msgParent := traceparent(13)
	req, _ := http.NewRequest("POST", g.URL+"/v1/messages", strings.NewReader(
		`{"model":"bedrock-claude","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"`+prompt+`"}]}`))
	req.Header.Set("x-api-key", testMasterKey)
	req.Header.Set("anthropic-version", "2023-06-01")
	req.Header.Set("traceparent", msgTP)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	msgBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(msgBody), "event: message_stop") {
		t.Fatalf("streamed /v1/messages: %d %s", resp.StatusCode, msgBody)
	}
	g.stop(t)

	for _, c := range []struct{ trace, parent, finish string }{{wholeTrace, wholeParent, "stop"}, {streamTrace, streamParent, "stop"}, {msgTrace, msgParent, "end_turn"}} {
		server, _ := requestSpan(t, rcv.trace(c.trace), c.parent)
		attrs := spanAttrs(server)
		in, out := anyValueString(attrs["gen_ai.input.messages"]), anyValueString(attrs["gen_ai.output.messages"])
		if !strings.Contains(in, `"content":"`+prompt+`"`) {
			t.Errorf("gen_ai.input.messages = %s, want the prompt", in)
		}
		if !strings.Contains(out, `"role":"assistant"`) || !strings.Contains(out, "echo: "+prompt) || !strings.Contains(out, `"finish_reason":"`+c.finish+`"`) {
			t.Errorf("gen_ai.output.messages = %s, want the answer", out)
		}
		wantAttrs(t, server, map[string]string{"gen_ai.response.id": "*", "gen_ai.response.finish_reasons": "[" + c.finish + "]"})
	}
	rcv.mu.Lock()
	raw := rcv.raw.String()
	rcv.mu.Unlock()
	if strings.Contains(raw, testMasterKey) {
		t.Error("the master key is in the exported spans")
	}
}
