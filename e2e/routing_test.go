package e2e

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/strata-gateway/strata/internal/emulator"
)

const (
	claudeModel = "anthropic.claude-3-5-sonnet-20240620-v1:0"
	llamaModel  = "meta.llama3-1-70b-instruct-v1:0"
	novaModel   = "amazon.nova-pro-v1:0"
)

// deployment is one model_list entry served by the emulator. modelID
// tells deployments of one model apart, so faults can target one.
type deployment struct {
	name, model, modelID string
	params               string // more litellm_params lines, e.g. "weight: 3"
}

// routingConfig writes a config whose deployments all call the emulator,
// followed by settings (YAML sections, as written).
func routingConfig(endpoint string, deployments []deployment, settings string) string {
	var b strings.Builder
	b.WriteString("model_list:\n")
	for _, d := range deployments {
		fmt.Fprintf(&b, `  - model_name: %s
    litellm_params:
      model: bedrock/%s
      model_id: %s
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
      aws_bedrock_runtime_endpoint: %s
`, d.name, d.model, d.modelID, endpoint)
		for _, line := range strings.Split(strings.TrimSpace(d.params), "\n") {
			if line != "" {
				fmt.Fprintf(&b, "      %s\n", strings.TrimSpace(line))
			}
		}
	}
	b.WriteString(settings)
	return b.String()
}

func hi(model string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi there")},
	}
}

// callsTo lists, in order, the model ids of the emulator's calls.
func callsTo(em *emulator.Emulator) []string {
	var ids []string
	for _, c := range em.Calls() {
		ids = append(ids, c.ModelID)
	}
	return ids
}

func count(ids []string, id string) int {
	n := 0
	for _, x := range ids {
		if x == id {
			n++
		}
	}
	return n
}

// Over many requests, simple-shuffle spreads load by weight.
func TestRoutingSpreadsLoadByWeight(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, routingConfig(endpoint, []deployment{
		{"bedrock-claude", claudeModel, "claude-east", "weight: 1"},
		{"bedrock-claude", claudeModel, "claude-west", "weight: 3"},
	}, ""), seedEnv...)

	const n, workers = 400, 8
	served := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range n / workers {
				status, raw, hdr := g.post(t, "/chat/completions", `{"model":"bedrock-claude","messages":[{"role":"user","content":"hi `+strconv.Itoa(w)+`"}]}`)
				if status != http.StatusOK {
					t.Errorf("status %d: %s", status, raw)
					return
				}
				mu.Lock()
				served[hdr.Get("X-Strata-Deployment")]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// Expect 100 and 300; four standard deviations (about 35) either way.
	east := served["bedrock-claude#1"]
	if math.Abs(float64(east)-n/4) > 35 || east+served["bedrock-claude#2"] != n {
		t.Errorf("served %v, want about 100 and 300", served)
	}
	calls := callsTo(em)
	if count(calls, "claude-east") != east || count(calls, "claude-west") != served["bedrock-claude#2"] {
		t.Errorf("the emulator's calls (%d east, %d west) disagree with the headers %v",
			count(calls, "claude-east"), count(calls, "claude-west"), served)
	}
}

// A throttled deployment is cooled down and traffic moves to the other.
func TestRoutingThrottledDeploymentCoolsDown(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, routingConfig(endpoint, []deployment{
		{"bedrock-claude", claudeModel, "claude-east", "weight: 9"},
		{"bedrock-claude", claudeModel, "claude-west", "weight: 1"},
	}, `router_settings:
  num_retries: 1
  cooldown_time: 120
`), seedEnv...)
	em.Fault(emulator.Fault{Model: "claude-east", Kind: emulator.FaultThrottling, Times: -1})

	client := g.client()
	for i := range 30 {
		var resp *http.Response
		if _, err := client.Chat.Completions.New(ctxTimeout(t), hi("bedrock-claude"), option.WithResponseInto(&resp)); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if d := resp.Header.Get("X-Strata-Deployment"); d != "bedrock-claude#2" {
			t.Fatalf("request %d served by %q", i, d)
		}
	}
	// With weight 9 of 10, east took the first call (or one soon after),
	// was throttled once, and got nothing more while it cooled down.
	if n := count(callsTo(em), "claude-east"); n != 1 {
		t.Errorf("claude-east was called %d times, want 1: one 429, then cooldown", n)
	}
	metrics := scrape(t, g)
	if v := metrics.value(t, "strata_deployment_cooldowns_total", "deployment", "bedrock-claude#1"); v != 1 {
		t.Errorf("cooldowns of bedrock-claude#1 = %v, want 1", v)
	}
	waitForLog(t, g, `"msg":"deployment cooling down"`)
}

// A failed call is retried on the other deployment, plain and streamed,
// and the client never sees the failure.
func TestRoutingRetrySucceedsOnSecondDeployment(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, routingConfig(endpoint, []deployment{
		{"bedrock-claude", claudeModel, "claude-east", "weight: 9"},
		{"bedrock-claude", claudeModel, "claude-west", "weight: 1"},
	}, `router_settings:
  num_retries: 2
  allowed_fails: 1000
`), seedEnv...)
	em.Fault(emulator.Fault{Model: "claude-east", Kind: emulator.FaultUnavailable, Times: -1})
	client := g.client()

	retried := 0
	for i := range 10 {
		var resp *http.Response
		out, err := client.Chat.Completions.New(ctxTimeout(t), hi("bedrock-claude"), option.WithResponseInto(&resp))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if out.Choices[0].Message.Content != "echo: hi there" || resp.Header.Get("X-Strata-Deployment") != "bedrock-claude#2" {
			t.Fatalf("request %d: %q from %s", i, out.Choices[0].Message.Content, resp.Header.Get("X-Strata-Deployment"))
		}
		retried += atoi(t, resp.Header.Get("X-Strata-Attempted-Retries"))
	}
	calls := callsTo(em)
	if retried == 0 || count(calls, "claude-east") != retried {
		t.Errorf("%d retries reported, %d calls to east: %v", retried, count(calls, "claude-east"), calls)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i] == "claude-east" && calls[i-1] == "claude-east" {
			t.Fatalf("a retry went back to the failing deployment while another was left: %v", calls)
		}
	}

	// A stream that fails before its first token is retried the same way.
	em.Reset()
	em.Fault(emulator.Fault{Model: "claude-east", Kind: emulator.FaultStreamException, AfterEvents: 1, Times: -1, Exception: "throttlingException"})
	for range 5 {
		s := client.Chat.Completions.NewStreaming(ctxTimeout(t), hi("bedrock-claude"))
		var text strings.Builder
		roles := 0
		for s.Next() {
			if c := s.Current(); len(c.Choices) > 0 {
				text.WriteString(c.Choices[0].Delta.Content)
				if c.Choices[0].Delta.Role != "" {
					roles++
				}
			}
		}
		if err := s.Err(); err != nil || text.String() != "echo: hi there" || roles != 1 {
			t.Fatalf("stream: %q (%d role chunks), err %v", text.String(), roles, err)
		}
	}
	if count(callsTo(em), "claude-east") == 0 {
		t.Error("no stream went to the failing deployment first; the test proved nothing")
	}
}

// When every deployment of a model fails, the fallbacks are tried in order.
func TestRoutingFallbackChain(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, routingConfig(endpoint, []deployment{
		{"bedrock-claude", claudeModel, "claude-east", ""},
		{"bedrock-claude", claudeModel, "claude-west", ""},
		{"bedrock-llama", llamaModel, "llama-east", ""},
		{"bedrock-nova", novaModel, "nova-east", ""},
		{"bedrock-claude-long", claudeModel, "claude-long", ""},
	}, `router_settings:
  num_retries: 1
  retry_after: 0.01
  fallbacks: [{"bedrock-claude": ["bedrock-llama", "bedrock-nova"]}]
  context_window_fallbacks: [{"bedrock-claude": ["bedrock-claude-long"]}]
`), seedEnv...)
	client := g.client()

	t.Run("chain", func(t *testing.T) {
		em.Reset()
		for _, id := range []string{"claude-east", "claude-west", "llama-east"} {
			em.Fault(emulator.Fault{Model: id, Kind: emulator.FaultUnavailable, Times: -1})
		}
		var resp *http.Response
		out, err := client.Chat.Completions.New(ctxTimeout(t), hi("bedrock-claude"), option.WithResponseInto(&resp))
		if err != nil {
			t.Fatal(err)
		}
		if out.Model != novaModel || resp.Header.Get("X-Strata-Model-Group") != "bedrock-nova" ||
			resp.Header.Get("X-Strata-Model-Id") != "nova-east" || resp.Header.Get("X-Strata-Attempted-Fallbacks") != "2" {
			t.Errorf("model %q, headers %v", out.Model, resp.Header)
		}
		// Both claude deployments (one retry), llama twice (its one
		// deployment, backed off), then nova.
		calls := callsTo(em)
		if len(calls) != 5 || calls[2] != "llama-east" || calls[3] != "llama-east" || calls[4] != "nova-east" ||
			count(calls[:2], "claude-east") != 1 || count(calls[:2], "claude-west") != 1 {
			t.Errorf("calls %v", calls)
		}
	})
	t.Run("request fallbacks", func(t *testing.T) {
		em.Reset()
		em.Fault(emulator.Fault{Model: "claude-east", Kind: emulator.FaultAccessDenied, Times: -1})
		em.Fault(emulator.Fault{Model: "claude-west", Kind: emulator.FaultAccessDenied, Times: -1})
		out, err := client.Chat.Completions.New(ctxTimeout(t), hi("bedrock-claude"), option.WithJSONSet("fallbacks", []string{"bedrock-claude-long"}))
		if err != nil || out.Model != claudeModel {
			t.Fatalf("%v %v", out, err)
		}
		if calls := callsTo(em); len(calls) != 2 || calls[1] != "claude-long" {
			t.Errorf("calls %v: access denied is not retried, the request's fallback serves", calls)
		}
	})
	t.Run("context window", func(t *testing.T) {
		em.Reset()
		em.Fault(emulator.Fault{Model: "claude-east", Kind: emulator.FaultValidation, Times: -1})
		em.Fault(emulator.Fault{Model: "claude-west", Kind: emulator.FaultValidation, Times: -1})
		var resp *http.Response
		_, err := client.Chat.Completions.New(ctxTimeout(t), hi("bedrock-claude"), option.WithResponseInto(&resp))
		if err != nil || resp.Header.Get("X-Strata-Model-Group") != "bedrock-claude-long" {
			t.Fatalf("err %v", err)
		}
		if calls := callsTo(em); len(calls) != 2 || calls[1] != "claude-long" {
			t.Errorf("calls %v: a context-length error goes straight to context_window_fallbacks", calls)
		}
	})
	t.Run("bad request is not fallen back", func(t *testing.T) {
		em.Reset()
		em.Fault(emulator.Fault{Kind: emulator.FaultValidation, Message: "messages.0.content: field required", Times: -1})
		_, err := client.Chat.Completions.New(ctxTimeout(t), hi("bedrock-claude"))
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 {
			t.Fatalf("err %v, want 400", err)
		}
		if calls := callsTo(em); len(calls) != 1 {
			t.Errorf("calls %v: a bad request must reach Bedrock once", calls)
		}
	})
}

// Once a stream's first byte reached the client, a failure ends the stream
// with an error event: nothing is retried, whatever num_retries says.
func TestRoutingNoRetryOnceStreamStarted(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, routingConfig(endpoint, []deployment{
		{"bedrock-claude", claudeModel, "claude-east", ""},
		{"bedrock-claude", claudeModel, "claude-west", ""},
	}, `router_settings:
  num_retries: 3
`), seedEnv...)
	em.Fault(emulator.Fault{Kind: emulator.FaultStreamException, AfterEvents: 3, Times: -1, Exception: "throttlingException", Message: "Too many tokens mid-stream"})

	client := g.client()
	s := client.Chat.Completions.NewStreaming(ctxTimeout(t), hi("bedrock-claude"))
	var text strings.Builder
	for s.Next() {
		if c := s.Current(); len(c.Choices) > 0 {
			text.WriteString(c.Choices[0].Delta.Content)
		}
	}
	if s.Err() == nil || !strings.Contains(s.Err().Error(), "Too many tokens mid-stream") || text.Len() == 0 {
		t.Fatalf("text %q err %v: want some text, then Bedrock's error", text.String(), s.Err())
	}
	if n := len(em.Calls()); n != 1 {
		t.Errorf("Bedrock was called %d times: a started stream was retried", n)
	}
}

// Every timeout gives the client a clear error, and the gateway lets go of
// Bedrock instead of waiting it out.
func TestRoutingTimeouts(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	deployments := []deployment{{"bedrock-claude", claudeModel, "claude-east", ""}}
	g := startGateway(t, routingConfig(endpoint, deployments, `router_settings:
  timeout: 1
  stream_timeout: 0.5
  stream_idle_timeout: 30
`), seedEnv...)
	client := g.client()

	cases := []struct {
		name   string
		fault  emulator.Fault
		stream bool
		opts   []option.RequestOption
		status int
		code   string
		inMsg  string
		midway bool // the error comes after some content, as an SSE event
	}{
		{"timeout", emulator.Fault{Kind: emulator.FaultSlow, Delay: 20 * time.Second}, false, nil,
			504, "timeout", "within 1s (router_settings.timeout)", false},
		{"request timeout", emulator.Fault{Kind: emulator.FaultSlow, Delay: 20 * time.Second}, false, []option.RequestOption{option.WithJSONSet("timeout", 0.3)},
			408, "timeout", "within 300ms (the request's timeout)", false},
		{"stream_timeout", emulator.Fault{Kind: emulator.FaultSlow, Delay: 20 * time.Second}, true, nil,
			504, "stream_timeout", "no token within 500ms (router_settings.stream_timeout)", false},
		{"timeout mid-stream", emulator.Fault{Kind: emulator.FaultStreamStall, AfterEvents: 3, Delay: 20 * time.Second}, true, nil,
			0, "timeout", "within 1s (router_settings.timeout)", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			em.Reset()
			em.Fault(c.fault)
			start := time.Now()
			text, err := complete(t, client, c.stream, c.opts...)
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Errorf("the client waited %v: the gateway did not let go", elapsed)
			}
			checkTimeoutError(t, err, c.status, c.code, c.inMsg)
			if c.midway != (text != "") {
				t.Errorf("text before the error: %q", text)
			}
		})
	}

	t.Run("idle", func(t *testing.T) {
		em2, endpoint2 := bedrockEmulator(t)
		g2 := startGateway(t, routingConfig(endpoint2, deployments, `router_settings:
  stream_idle_timeout: 0.5
`), seedEnv...)
		em2.Fault(emulator.Fault{Kind: emulator.FaultStreamStall, AfterEvents: 3, Delay: 20 * time.Second})
		text, err := complete(t, g2.client(), true)
		checkTimeoutError(t, err, 0, "stream_idle_timeout", "silent for more than 500ms (router_settings.stream_idle_timeout)")
		if text == "" {
			t.Error("no text before the stream went silent")
		}
		waitForMetric(t, g2, "strata_in_flight_requests", 0, "deployment", "bedrock-claude#1")
	})
	waitForMetric(t, g, "strata_in_flight_requests", 0, "deployment", "bedrock-claude#1")
}

// complete makes one chat call, streamed or not, and returns the text that
// arrived and the error the SDK raised.
func complete(t *testing.T, client openai.Client, stream bool, opts ...option.RequestOption) (string, error) {
	t.Helper()
	if !stream {
		out, err := client.Chat.Completions.New(ctxTimeout(t), hi("bedrock-claude"), opts...)
		if err != nil {
			return "", err
		}
		return out.Choices[0].Message.Content, nil
	}
	s := client.Chat.Completions.NewStreaming(ctxTimeout(t), hi("bedrock-claude"), opts...)
	var text strings.Builder
	for s.Next() {
		if c := s.Current(); len(c.Choices) > 0 {
			text.WriteString(c.Choices[0].Delta.Content)
		}
	}
	return text.String(), s.Err()
}

// checkTimeoutError checks an SDK error; status 0 is an error event after
// the stream started, which carries no status.
func checkTimeoutError(t *testing.T, err error, status int, code, inMsg string) {
	t.Helper()
	if status == 0 {
		var se *ssestream.StreamError
		if !errors.As(err, &se) {
			t.Fatalf("want an error event in the stream, got %v", err)
		}
		for _, want := range []string{`"code":"` + code + `"`, `"type":"timeout_error"`, inMsg} {
			if !strings.Contains(se.Message, want) {
				t.Errorf("error event %s lacks %s", se.Message, want)
			}
		}
		return
	}
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("want an API error, got %v", err)
	}
	if apiErr.StatusCode != status || apiErr.Code != code || apiErr.Type != "timeout_error" || !strings.Contains(apiErr.Message, inMsg) {
		t.Errorf("got %d %s %s %q, want %d %s timeout_error containing %q", apiErr.StatusCode, apiErr.Code, apiErr.Type, apiErr.Message, status, code, inMsg)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}

// On SIGTERM the gateway stops accepting connections but lets a long
// stream in flight finish, then exits cleanly.
func TestShutdownLetsLongStreamFinish(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, routingConfig(endpoint, []deployment{{"bedrock-claude", claudeModel, "claude-east", ""}}, ""), seedEnv...)
	em.Fault(emulator.Fault{Kind: emulator.FaultStreamStall, AfterEvents: 2, Delay: 2 * time.Second})

	client := g.client()
	s := client.Chat.Completions.NewStreaming(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model:    "bedrock-claude",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("a long answer please")},
	})
	if !s.Next() {
		t.Fatalf("no first chunk: %v", s.Err())
	}
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, g, "shutting down")
	if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(g.URL, "http://"), time.Second); err == nil {
		conn.Close()
		t.Error("the gateway still accepts connections while shutting down")
	}
	var text strings.Builder
	for s.Next() {
		if c := s.Current(); len(c.Choices) > 0 {
			text.WriteString(c.Choices[0].Delta.Content)
		}
	}
	if err := s.Err(); err != nil || text.String() != "echo: a long answer please" {
		t.Errorf("the stream in flight got %q, err %v; want the rest of the answer", text.String(), err)
	}
	select {
	case err := <-g.done:
		if err != nil {
			t.Errorf("strata exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("strata did not exit after its last stream")
	}
	if !strings.Contains(g.logs.String(), "shut down: every request finished") {
		t.Error("the log does not say every request finished")
	}
}

// A stream still running at the shutdown timeout is cut, and its Bedrock
// call cancelled, so the gateway exits on time.
func TestShutdownCancelsStreamsAtTimeout(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	path := filepath.Join(t.TempDir(), "config.yaml")
	config := routingConfig(endpoint, []deployment{{"bedrock-claude", claudeModel, "claude-east", ""}}, "")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startStrata(t, seedEnv, "--config", path, "--shutdown-timeout", "1s")
	em.Fault(emulator.Fault{Kind: emulator.FaultStreamStall, AfterEvents: 2}) // silent until the client leaves

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := g.client()
	s := client.Chat.Completions.NewStreaming(ctx, hi("bedrock-claude"))
	if !s.Next() {
		t.Fatalf("no first chunk: %v", s.Err())
	}
	start := time.Now()
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for s.Next() {
	}
	if s.Err() == nil {
		t.Error("the cut stream ended as if complete")
	}
	select {
	case <-g.done:
	case <-time.After(15 * time.Second):
		t.Fatal("strata did not exit after its shutdown timeout")
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("exit took %v with a 1s shutdown timeout", elapsed)
	}
	if !strings.Contains(g.logs.String(), "shutdown timeout reached") {
		t.Error("the log does not say requests were cancelled")
	}
}

func waitForLog(t *testing.T, g *gateway, text string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(g.logs.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("the log never said %q", text)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
