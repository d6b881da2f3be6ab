package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/strata-gateway/strata/internal/emulator"
)

// metricLines is a /metrics answer in Prometheus' text format.
type metricLines []string

func scrape(t *testing.T, g *gateway) metricLines {
	t.Helper()
	resp, err := http.Get(g.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var lines metricLines
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, line)
		}
	}
	return lines
}

// has reports whether a series of the metric is exposed, whatever its value.
func (m metricLines) has(name string) bool {
	for _, line := range m {
		series, _, _ := strings.Cut(line, " ")
		if metric, _, _ := strings.Cut(series, "{"); metric == name {
			return true
		}
	}
	return false
}

// value sums the series of name whose labels include the given pairs; a
// series never created reads 0.
func (m metricLines) value(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	sum := 0.0
	for _, line := range m {
		series, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		metric, labelText, _ := strings.Cut(series, "{")
		if metric != name {
			continue
		}
		matches := true
		for i := 0; i+1 < len(labels); i += 2 {
			if !strings.Contains(labelText, labels[i]+`="`+labels[i+1]+`"`) {
				matches = false
			}
		}
		if !matches {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += f
	}
	return sum
}

func waitForMetric(t *testing.T, g *gateway, name string, want float64, labels ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := scrape(t, g).value(t, name, labels...)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v = %v, want %v", name, labels, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// GET /metrics is scraped after a known sequence of requests, and its
// counters say exactly what happened.
func TestMetricsCountWhatHappened(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, routingConfig(endpoint, []deployment{
		{"bedrock-claude", claudeModel, "claude-east", ""},
		{"bedrock-broken", claudeModel, "broken-east", ""},
	}, `router_settings:
  retry_after: 0.01
  cooldown_time: 600
  fallbacks: [{"bedrock-broken": ["bedrock-claude"]}]
`), seedEnv...)
	client := g.client()

	// Three plain answers and one stream, all served by bedrock-claude#1.
	inputTokens, outputTokens := 0, 0
	for _, words := range []string{"one", "one two", "one two three"} {
		out, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
			Model:    "bedrock-claude",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(words)},
		})
		if err != nil {
			t.Fatal(err)
		}
		inputTokens += int(out.Usage.PromptTokens)
		outputTokens += int(out.Usage.CompletionTokens)
	}
	s := client.Chat.Completions.NewStreaming(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model:         "bedrock-claude",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("stream me")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	for s.Next() {
		if u := s.Current().Usage; u.TotalTokens > 0 {
			inputTokens += int(u.PromptTokens)
			outputTokens += int(u.CompletionTokens)
		}
	}
	if s.Err() != nil {
		t.Fatal(s.Err())
	}
	// A stream that did not ask for usage still counts its tokens.
	s = client.Chat.Completions.NewStreaming(ctxTimeout(t), hi("bedrock-claude"))
	for s.Next() {
		if s.Current().Usage.TotalTokens > 0 {
			t.Error("usage sent to a client that did not ask for it")
		}
	}
	inputTokens, outputTokens = inputTokens+2, outputTokens+3 // "hi there" -> "echo: hi there"

	// One throttled call retried (per request) on the same deployment.
	em.Fault(emulator.Fault{Model: "claude-east", Kind: emulator.FaultThrottling})
	if _, err := client.Chat.Completions.New(ctxTimeout(t), hi("bedrock-claude"), option.WithJSONSet("num_retries", 1)); err != nil {
		t.Fatal(err)
	}
	inputTokens, outputTokens = inputTokens+2, outputTokens+3
	// One throttled call the client sees.
	em.Fault(emulator.Fault{Model: "claude-east", Kind: emulator.FaultThrottling})
	if _, err := client.Chat.Completions.New(ctxTimeout(t), hi("bedrock-claude")); err == nil {
		t.Fatal("a throttled call without retries succeeded")
	}
	// One fallback from a broken model.
	em.Fault(emulator.Fault{Model: "broken-east", Kind: emulator.FaultUnavailable})
	if _, err := client.Chat.Completions.New(ctxTimeout(t), hi("bedrock-broken")); err != nil {
		t.Fatal(err)
	}
	inputTokens, outputTokens = inputTokens+2, outputTokens+3

	m := scrape(t, g)
	claude := []string{"model_name", "bedrock-claude", "deployment", "bedrock-claude#1"}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"strata_requests_total", append(claude, "status", "200"), 6},
		{"strata_requests_total", []string{"model_name", "bedrock-claude", "deployment", "", "status", "429"}, 1},
		{"strata_requests_total", []string{"model_name", "bedrock-broken", "deployment", "bedrock-claude#1", "status", "200"}, 1},
		{"strata_request_duration_seconds_count", claude, 7},
		{"strata_time_to_first_token_seconds_count", claude, 2},
		{"strata_tokens_total", append(claude, "direction", "input"), float64(inputTokens)},
		{"strata_tokens_total", append(claude, "direction", "output"), float64(outputTokens)},
		{"strata_retries_total", []string{"model_name", "bedrock-claude"}, 1},
		{"strata_fallbacks_total", []string{"model_name", "bedrock-broken", "fallback_model", "bedrock-claude", "reason", "error"}, 1},
		{"strata_upstream_errors_total", append(claude, "exception", "ThrottlingException"), 2},
		{"strata_upstream_errors_total", []string{"deployment", "bedrock-broken#1", "exception", "ServiceUnavailableException"}, 1},
		{"strata_deployment_cooldowns_total", claude, 1}, // the first 429 cooled it; the second came while cooling
		{"strata_in_flight_requests", nil, 0},
	} {
		if got := m.value(t, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// The series must exist; their values say nothing (an idle process may
	// not have used a whole tick of CPU yet).
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if !m.has(name) {
			t.Errorf("no %s: the Go runtime and process collectors are missing", name)
		}
	}
}

// Every request's log line carries its id (the client's, when it sent
// one), the model, the deployment, status, latency, tokens and retries.
func TestRequestLogLine(t *testing.T) {
	_, endpoint := bedrockEmulator(t)
	g := startGateway(t, routingConfig(endpoint, []deployment{{"bedrock-claude", claudeModel, "claude-east", ""}}, ""), seedEnv...)
	var resp *http.Response
	client := g.client()
	_, err := client.Chat.Completions.New(ctxTimeout(t), hi("bedrock-claude"),
		option.WithHeader("X-Request-Id", "req-from-client-42"), option.WithResponseInto(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("X-Request-Id"); got != "req-from-client-42" {
		t.Errorf("X-Request-Id answered %q", got)
	}
	// The line is written once the answer went out: it may trail the answer.
	var line map[string]any
	for deadline := time.Now().Add(10 * time.Second); line == nil; time.Sleep(10 * time.Millisecond) {
		for _, l := range strings.Split(g.logs.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(l), &rec) == nil && rec["msg"] == "request" && rec["request_id"] == "req-from-client-42" {
				line = rec
			}
		}
		if line == nil && time.Now().After(deadline) {
			t.Fatalf("no request log line with the client's id:\n%s", g.logs)
		}
	}
	want := map[string]any{"model": "bedrock-claude", "deployment": "bedrock-claude#1", "status": 200.0,
		"retries": 0.0, "fallbacks": 0.0, "prompt_tokens": 2.0, "completion_tokens": 3.0, "path": "/chat/completions"}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v", k, line[k], v)
		}
	}
	if d, ok := line["duration_ms"].(float64); !ok || d <= 0 {
		t.Errorf("log duration_ms = %v", line["duration_ms"])
	}
}

type healthAnswer struct {
	Healthy []struct {
		Deployment string `json:"deployment"`
		Checked    bool   `json:"checked"`
	} `json:"healthy_endpoints"`
	Unhealthy []struct {
		Deployment string `json:"deployment"`
		Checked    bool   `json:"checked"`
		Error      string `json:"error"`
	} `json:"unhealthy_endpoints"`
	HealthyCount   int `json:"healthy_count"`
	UnhealthyCount int `json:"unhealthy_count"`
}

func getHealth(t *testing.T, g *gateway) (healthAnswer, string) {
	t.Helper()
	resp, err := http.Get(g.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var h healthAnswer
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &h) != nil {
		t.Fatalf("GET /health: %d %s", resp.StatusCode, raw)
	}
	return h, string(raw)
}

// GET /health reports healthy and unhealthy endpoints: by default from
// what the router saw (no tokens spent), with health_check_upstream by
// asking each deployment.
func TestHealthReportsEndpoints(t *testing.T) {
	deployments := []deployment{
		{"bedrock-claude", claudeModel, "claude-east", ""},
		{"bedrock-claude", claudeModel, "claude-west", ""},
	}
	t.Run("router view", func(t *testing.T) {
		em, endpoint := bedrockEmulator(t)
		g := startGateway(t, routingConfig(endpoint, deployments, ""), seedEnv...)
		h, _ := getHealth(t, g)
		if h.HealthyCount != 2 || h.UnhealthyCount != 0 || len(em.Calls()) != 0 {
			t.Errorf("fresh gateway: %+v, %d calls to Bedrock", h, len(em.Calls()))
		}
		em.Fault(emulator.Fault{Model: "claude-east", Kind: emulator.FaultThrottling, Times: -1})
		for range 20 {
			g.post(t, "/chat/completions", `{"model":"bedrock-claude","messages":[{"role":"user","content":"hi"}]}`)
		}
		h, _ = getHealth(t, g)
		if h.UnhealthyCount != 1 || h.Unhealthy[0].Deployment != "bedrock-claude#1" || h.Unhealthy[0].Checked ||
			!strings.Contains(h.Unhealthy[0].Error, "cooling down") {
			t.Errorf("after throttling: %+v", h)
		}
	})
	t.Run("upstream check", func(t *testing.T) {
		em, endpoint := bedrockEmulator(t)
		g := startGateway(t, routingConfig(endpoint, deployments, "general_settings:\n  health_check_upstream: true\n"), seedEnv...)
		em.Fault(emulator.Fault{Model: "claude-west", Kind: emulator.FaultAccessDenied, Times: -1})
		h, raw := getHealth(t, g)
		if h.HealthyCount != 1 || h.Healthy[0].Deployment != "bedrock-claude#1" || !h.Healthy[0].Checked {
			t.Errorf("healthy: %s", raw)
		}
		if h.UnhealthyCount != 1 || h.Unhealthy[0].Deployment != "bedrock-claude#2" || !strings.Contains(h.Unhealthy[0].Error, "AccessDeniedException") {
			t.Errorf("unhealthy: %s", raw)
		}
		if len(em.Calls()) != 2 {
			t.Errorf("%d calls to Bedrock, want one per deployment", len(em.Calls()))
		}
		if strings.Contains(raw, testSecretKey) || strings.Contains(raw, testAccessKey) {
			t.Error("/health shows credentials")
		}
	})
}
