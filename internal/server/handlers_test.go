package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/emulator"
	"github.com/strata-gateway/strata/internal/limits"
	"github.com/strata-gateway/strata/internal/router"
	"github.com/strata-gateway/strata/internal/translate"
)

// These tests call the Server as an http.Handler, in front of the Bedrock
// emulator, and check the decisions the handlers make: the status and
// OpenAI error for each failure, the headers of every answer, and the
// access-log line. A new decision is a new row of a table below.

const (
	testKeyID  = "AKIASERVERTEST000001"
	testSecret = "server-test-secret-never-logged"
	testRegion = "us-east-1"
)

// testModel is one deployment of the server under test.
type testModel struct {
	name, model string
	policy      router.Policy
	creds       aws.CredentialsProvider // nil: the emulator's test key
	endpoint    string                  // "": the emulator
}

type serverFixture struct {
	em   *emulator.Emulator
	srv  *Server
	logs *logBuffer
}

func newServerFixture(t testing.TB, opts Options, models ...testModel) *serverFixture {
	t.Helper()
	em := emulator.New(emulator.Options{Keys: map[string]emulator.Key{testKeyID: {Secret: testSecret}}, Region: testRegion})
	upstream := httptest.NewServer(em)
	t.Cleanup(upstream.Close)
	if len(models) == 0 {
		models = []testModel{
			{name: "claude", model: "anthropic.claude-3-5-sonnet-20240620-v1:0"},
			{name: "titan-embed", model: "amazon.titan-embed-text-v2:0"},
		}
	}
	var deployments []*router.Deployment
	for _, m := range models {
		creds := m.creds
		if creds == nil {
			creds = credentials.NewStaticCredentialsProvider(testKeyID, testSecret, "")
		}
		endpoint := cmpOr(m.endpoint, upstream.URL)
		client, err := bedrock.NewClient(bedrock.ClientOptions{Region: testRegion, Endpoint: endpoint, Credentials: creds})
		if err != nil {
			t.Fatal(err)
		}
		targets, _, err := translate.NewTargets(m.model, "", nil, false)
		if err != nil {
			t.Fatal(err)
		}
		deployments = append(deployments, &router.Deployment{
			Name: m.name, ID: m.name + "#1", BaseModel: m.model, ModelID: m.model, Policy: m.policy, Client: client,
			Chat: targets.Chat, API: targets.Family.API, Route: targets.Route, Invoke: targets.Invoke, Embed: targets.Embed, Image: targets.Image,
		})
	}
	logs := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rt, err := router.New(deployments, router.Options{Logger: log, Tracer: opts.Tracer})
	if err != nil {
		t.Fatal(err)
	}
	opts.Router, opts.Logger = rt, log
	return &serverFixture{em: em, srv: New(opts), logs: logs}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// do sends one request through the whole handler, middleware included.
func (f *serverFixture) do(t *testing.T, method, path, body string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, r)
	return w
}

type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the log lines with msg, decoded.
func (b *logBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// openAIError decodes an OpenAI error body, checking all four keys are there.
func openAIError(t *testing.T, w *httptest.ResponseRecorder) (typ, code, message string) {
	t.Helper()
	var body map[string]map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["error"] == nil {
		t.Fatalf("not an OpenAI error body: %q", w.Body)
	}
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := body["error"][k]; !ok {
			t.Errorf("error body lacks %q: %s", k, w.Body)
		}
	}
	typ, _ = body["error"]["type"].(string)
	code, _ = body["error"]["code"].(string)
	message, _ = body["error"]["message"].(string)
	return typ, code, message
}

const chatBody = `{"model":"claude","messages":[{"role":"user","content":"hi"}]}`
const streamBody = `{"model":"claude","stream":true,"messages":[{"role":"user","content":"hi"}]}`

// Which status and OpenAI error each failure gets, with its content type
// and length, and how loudly it is logged: client mistakes at info, the
// gateway's and Bedrock's failures at error.
func TestHandlerErrors(t *testing.T) {
	cases := []struct {
		name             string
		method, path     string
		body             string
		fault            string // emulator fault injected before the request
		status           int
		errType, errCode string
		inMessage        string
		level            string // of the "request failed" line
		header           map[string]string
	}{
		{name: "body is not JSON", method: "POST", path: "/v1/chat/completions", body: `{"model":`,
			status: 400, errType: "invalid_request_error", inMessage: "not valid JSON", level: "INFO"},
		{name: "unknown model", method: "POST", path: "/v1/chat/completions", body: `{"model":"nope","messages":[{"role":"user","content":"hi"}]}`,
			status: 400, errType: "invalid_request_error", errCode: "model_not_found", inMessage: "nope", level: "INFO"},
		{name: "embedding model asked for chat", method: "POST", path: "/chat/completions", body: `{"model":"titan-embed","messages":[{"role":"user","content":"hi"}]}`,
			status: 400, errType: "invalid_request_error", errCode: "wrong_endpoint", level: "INFO"},
		{name: "wrong method", method: "GET", path: "/v1/embeddings",
			status: 405, errType: "invalid_request_error", errCode: "method_not_allowed", inMessage: "GET", level: "INFO",
			header: map[string]string{"Allow": "POST"}},
		{name: "unknown path", method: "GET", path: "/v1/nothing-here",
			status: 404, errType: "not_found_error", errCode: "not_found", level: "INFO"},
		{name: "body over the limit", method: "POST", path: "/v1/chat/completions",
			body:   `{"model":"claude","messages":[{"role":"user","content":"` + strings.Repeat("x", 4096) + `"}]}`,
			status: 413, errType: "invalid_request_error", errCode: "request_too_large", inMessage: "max_request_size_mb", level: "INFO"},
		{name: "Bedrock throttles", method: "POST", path: "/v1/chat/completions", body: chatBody, fault: emulator.FaultThrottling,
			status: 429, errType: "rate_limit_error", level: "INFO"},
		{name: "Bedrock throttles a stream before its first byte", method: "POST", path: "/v1/chat/completions", body: streamBody, fault: emulator.FaultThrottling,
			status: 429, errType: "rate_limit_error", level: "INFO"},
		{name: "Bedrock refuses access", method: "POST", path: "/v1/chat/completions", body: chatBody, fault: emulator.FaultAccessDenied,
			status: 403, errType: "permission_error", level: "INFO"},
		{name: "Bedrock model timeout", method: "POST", path: "/v1/chat/completions", body: chatBody, fault: emulator.FaultModelTimeout,
			status: 408, errType: "timeout_error", level: "INFO"},
		{name: "Bedrock unavailable", method: "POST", path: "/v1/chat/completions", body: chatBody, fault: emulator.FaultUnavailable,
			status: 503, errType: "service_unavailable_error", level: "ERROR"},
		{name: "Bedrock internal error", method: "POST", path: "/v1/chat/completions", body: chatBody, fault: emulator.FaultInternal,
			status: 500, errType: "server_error", level: "ERROR"},
		{name: "Bedrock model error", method: "POST", path: "/v1/chat/completions", body: chatBody, fault: emulator.FaultModelError,
			status: 424, errType: "api_error", level: "INFO"},
	}
	f := newServerFixture(t, Options{MaxRequestBytes: 1024})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.fault != "" {
				f.em.Fault(emulator.Fault{Kind: c.fault})
			}
			w := f.do(t, c.method, c.path, c.body, nil)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body)
			}
			typ, code, message := openAIError(t, w)
			if typ != c.errType || c.errCode != "" && code != c.errCode || !strings.Contains(message, c.inMessage) {
				t.Errorf("error type %q code %q message %q; want %q, %q, a message with %q", typ, code, message, c.errType, c.errCode, c.inMessage)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if cl := w.Header().Get("Content-Length"); cl != itoa(w.Body.Len()) {
				t.Errorf("Content-Length %q for %d bytes", cl, w.Body.Len())
			}
			for k, v := range c.header {
				if got := w.Header().Get(k); got != v {
					t.Errorf("header %s: %q, want %q", k, got, v)
				}
			}
			id := w.Header().Get("X-Request-Id")
			failed := findRecord(f.logs.records(t, "request failed"), id)
			if failed == nil || failed["level"] != c.level || failed["status"] != float64(c.status) || failed["error"] == "" {
				t.Errorf("request failed line %v; want level %s, status %d and the error", failed, c.level, c.status)
			}
			if access := findRecord(f.logs.records(t, "request"), id); access == nil || access["status"] != float64(c.status) {
				t.Errorf("access log line %v; want status %d", access, c.status)
			}
		})
	}
}

// No good credentials: a 500 that says so without any detail, the detail
// in the log. An unreachable Bedrock: a 502. Neither leaks anything.
func TestHandlerUpstreamFailures(t *testing.T) {
	noCreds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("STS refused the role: secret-detail")
	})
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	f := newServerFixture(t, Options{},
		testModel{name: "nocreds", model: "anthropic.claude-3-5-sonnet-20240620-v1:0", creds: noCreds},
		testModel{name: "unreachable", model: "anthropic.claude-3-5-sonnet-20240620-v1:0", endpoint: dead.URL},
	)
	for _, c := range []struct {
		model  string
		status int
		code   string
	}{
		{"nocreds", 500, "aws_credentials_unavailable"},
		{"unreachable", 502, "bedrock_unreachable"},
	} {
		t.Run(c.model, func(t *testing.T) {
			w := f.do(t, "POST", "/v1/chat/completions", `{"model":"`+c.model+`","messages":[{"role":"user","content":"hi"}]}`, nil)
			typ, code, message := openAIError(t, w)
			if w.Code != c.status || code != c.code || typ == "" {
				t.Errorf("%d %s %s, want %d %s", w.Code, typ, code, c.status, c.code)
			}
			if strings.Contains(message, "secret-detail") || strings.Contains(message, "127.0.0.1") {
				t.Errorf("the client sees the gateway's detail: %q", message)
			}
			failed := findRecord(f.logs.records(t, "request failed"), w.Header().Get("X-Request-Id"))
			if failed == nil || failed["level"] != "ERROR" {
				t.Errorf("request failed line %v, want an ERROR with the detail", failed)
			}
		})
	}
	if !strings.Contains(f.logs.String(), "secret-detail") {
		t.Error("the credentials failure's detail is not in the log")
	}
}

// Every answer carries X-Request-Id: the client's own when it sent a
// usable one, else a fresh one; the access log carries the same id.
func TestHandlerRequestID(t *testing.T) {
	f := newServerFixture(t, Options{})
	long := strings.Repeat("r", 129)
	seen := map[string]bool{}
	for _, c := range []struct {
		name, sent string
		keep       bool
	}{
		{"client's id kept", "req-from-client-42", true},
		{"none sent", "", false},
		{"another without", "", false},
		{"too long, replaced", long, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			header := map[string]string{}
			if c.sent != "" {
				header["X-Request-Id"] = c.sent
			}
			for _, path := range []string{"/v1/models", "/v1/nothing-here"} {
				w := f.do(t, "GET", path, "", header)
				id := w.Header().Get("X-Request-Id")
				switch {
				case c.keep && id != c.sent:
					t.Errorf("%s: X-Request-Id %q, want the client's %q", path, id, c.sent)
				case !c.keep && (id == "" || id == c.sent || len(id) > 128 || seen[id]):
					t.Errorf("%s: X-Request-Id %q, want a fresh id", path, id)
				}
				seen[id] = true
				if findRecord(f.logs.records(t, "request"), id) == nil {
					t.Errorf("%s: no access log line with request_id %q", path, id)
				}
			}
		})
	}
}

// A served chat request: the answer's content type and the access-log
// line with the model, the deployment that served, retries, fallbacks and
// tokens. A stream is text/event-stream with the same line.
func TestHandlerAccessLog(t *testing.T) {
	f := newServerFixture(t, Options{})
	for _, c := range []struct {
		name, body, contentType string
	}{
		{"chat", chatBody, "application/json"},
		{"stream", `{"model":"claude","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`, "text/event-stream"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := f.do(t, "POST", "/v1/chat/completions", c.body, map[string]string{"X-Request-Id": "log-" + c.name})
			if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), c.contentType) {
				t.Fatalf("%d %q: %s", w.Code, w.Header().Get("Content-Type"), w.Body)
			}
			rec := findRecord(f.logs.records(t, "request"), "log-"+c.name)
			if rec == nil {
				t.Fatalf("no access log line:\n%s", f.logs)
			}
			want := map[string]any{
				"level": "INFO", "method": "POST", "path": "/v1/chat/completions", "status": float64(200),
				"model": "claude", "deployment": "claude#1", "retries": float64(0), "fallbacks": float64(0),
			}
			for k, v := range want {
				if rec[k] != v {
					t.Errorf("%s = %v, want %v", k, rec[k], v)
				}
			}
			if d, ok := rec["duration_ms"].(float64); !ok || d < 0 {
				t.Errorf("duration_ms %v", rec["duration_ms"])
			}
			if p, _ := rec["prompt_tokens"].(float64); p <= 0 {
				t.Errorf("prompt_tokens %v, want Bedrock's count", rec["prompt_tokens"])
			}
			if p, _ := rec["completion_tokens"].(float64); p <= 0 {
				t.Errorf("completion_tokens %v, want Bedrock's count", rec["completion_tokens"])
			}
		})
	}
	// A request that is not for a model logs no model fields.
	f.do(t, "GET", "/v1/models", "", map[string]string{"X-Request-Id": "log-models"})
	if rec := findRecord(f.logs.records(t, "request"), "log-models"); rec == nil || rec["status"] != float64(200) || rec["model"] != nil {
		t.Errorf("access log of GET /v1/models: %v", rec)
	}
	if strings.Contains(f.logs.String(), testSecret) {
		t.Error("the AWS secret is in the log")
	}
}

// A request over a limit gets 429 with Retry-After saying when to come
// back, in whole seconds, and Bedrock is not called: whether the limit is
// a deployment's rpm (the router skips it, and none is left) or one the
// limiter admits requests against (then with the x-ratelimit-* headers).
func TestHandlerRetryAfter(t *testing.T) {
	claude := "anthropic.claude-3-5-sonnet-20240620-v1:0"
	for _, c := range []struct {
		name    string
		opts    Options
		model   testModel
		headers []string // present besides Retry-After
	}{
		{name: "deployment rpm", model: testModel{name: "claude", model: claude, policy: router.Policy{RPM: 1}}},
		{name: "limiter rpm",
			opts:    Options{Limiter: limits.New(limits.Options{Global: &limits.Scope{Kind: "global", ID: "gateway", Name: "the gateway", RPM: 1}})},
			model:   testModel{name: "claude", model: claude},
			headers: []string{"X-Ratelimit-Limit-Requests", "X-Ratelimit-Remaining-Requests"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newServerFixture(t, c.opts, c.model)
			if w := f.do(t, "POST", "/v1/chat/completions", chatBody, nil); w.Code != 200 {
				t.Fatalf("first request: %d %s", w.Code, w.Body)
			}
			w := f.do(t, "POST", "/v1/chat/completions", chatBody, nil)
			typ, _, _ := openAIError(t, w)
			if w.Code != 429 || typ != "rate_limit_error" {
				t.Fatalf("over the limit: %d %s", w.Code, typ)
			}
			if ra := w.Header().Get("Retry-After"); ra == "" || ra == "0" || strings.ContainsAny(ra, ".-") {
				t.Errorf("Retry-After %q, want whole seconds until the limit frees", ra)
			}
			for _, h := range c.headers {
				if w.Header().Get(h) == "" {
					t.Errorf("no %s header", h)
				}
			}
			if n := len(f.em.Calls()); n != 1 {
				t.Errorf("Bedrock got %d calls, want only the first", n)
			}
		})
	}
}

// After a stream's first byte the status is sent: a failure becomes the
// stream's last event, an OpenAI error object, and the access log keeps
// the 200 that went out.
func TestHandlerStreamFailsAfterFirstByte(t *testing.T) {
	f := newServerFixture(t, Options{})
	f.em.Fault(emulator.Fault{Kind: emulator.FaultStreamException, AfterEvents: 3, Exception: "ThrottlingException"})
	w := f.do(t, "POST", "/v1/chat/completions", streamBody, map[string]string{"X-Request-Id": "broken-stream"})
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream") {
		t.Fatalf("%d %q", w.Code, w.Header().Get("Content-Type"))
	}
	events := strings.Split(strings.TrimSpace(w.Body.String()), "\n\n")
	last := strings.TrimPrefix(events[len(events)-1], "data: ")
	var body struct {
		Error *struct {
			Message string `json:"message"`
			Type    string `json:"type"`
		} `json:"error"`
	}
	if len(events) < 2 || json.Unmarshal([]byte(last), &body) != nil || body.Error == nil || body.Error.Type != "rate_limit_error" {
		t.Fatalf("the stream does not end with the error event:\n%s", w.Body)
	}
	if strings.Contains(w.Body.String(), "[DONE]") {
		t.Errorf("a failed stream ends with [DONE], as if it were whole:\n%s", w.Body)
	}
	if rec := findRecord(f.logs.records(t, "request"), "broken-stream"); rec == nil || rec["status"] != float64(200) {
		t.Errorf("access log %v, want the status that was sent (200)", rec)
	}
}

func findRecord(recs []map[string]any, requestID string) map[string]any {
	for _, r := range recs {
		if r["request_id"] == requestID {
			return r
		}
	}
	return nil
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
