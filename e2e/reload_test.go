package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/strata-gateway/strata/internal/emulator"
)

const (
	alphaModel = "anthropic.claude-3-5-sonnet-20240620-v1:0"
	betaModel  = "anthropic.claude-3-haiku-20240307-v1:0"
)

// reloadConfig serves each name on its Bedrock model id, followed by extra.
func reloadConfig(endpoint string, models [][2]string, extra string) string {
	var b strings.Builder
	b.WriteString("model_list:\n")
	for _, m := range models {
		fmt.Fprintf(&b, `  - model_name: %s
    litellm_params:
      model: bedrock/%s
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
      aws_bedrock_runtime_endpoint: %s
`, m[0], m[1], endpoint)
	}
	b.WriteString(extra)
	return b.String()
}

// brokenReloadConfig has three problems, each of which must be reported.
const brokenReloadConfig = `model_list:
  - model_name: gamma
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: os.environ/STRATA_E2E_UNSET_REGION
router_settings:
  routing_strategy: fastest-please
  num_retries: -1
`

var brokenReloadProblems = []string{"STRATA_E2E_UNSET_REGION", "fastest-please", "num_retries"}

// configPath is the file the gateway was started with.
func (g *gateway) configPath(t *testing.T) string {
	t.Helper()
	for i, a := range g.cmd.Args {
		if a == "--config" && i+1 < len(g.cmd.Args) {
			return g.cmd.Args[i+1]
		}
	}
	t.Fatal("the gateway was started without --config")
	return ""
}

func (g *gateway) rewriteConfig(t *testing.T, config string) {
	t.Helper()
	// Written aside and renamed, as editors and config management do, so
	// that a reload never reads half a file.
	path := g.configPath(t)
	tmp := filepath.Join(filepath.Dir(path), ".config.yaml.new")
	if err := os.WriteFile(tmp, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// waitForLogCount waits until the log has said text n times.
func waitForLogCount(t *testing.T, g *gateway, text string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(g.logs.String(), text) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the log said %q %d times, want %d", text, strings.Count(g.logs.String(), text), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (g *gateway) modelIDs(t *testing.T, opts ...option.RequestOption) []string {
	t.Helper()
	client := g.client(opts...)
	page, err := client.Models.List(ctxTimeout(t))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	return ids
}

// SIGHUP swaps the models while a stream is open: the stream ends
// normally on the deployment it started on, new requests see the new
// file, and a broken file changes nothing.
func TestSIGHUPReloadsWithAStreamOpen(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, reloadConfig(endpoint, [][2]string{{"alpha", alphaModel}}, ""), seedEnv...)
	client := g.client()

	// A stream on alpha that Bedrock holds after its first words.
	release := make(chan struct{})
	em.Fault(emulator.Fault{Model: alphaModel, Kind: emulator.FaultStreamStall, AfterEvents: 2, Until: release})
	stream := client.Chat.Completions.NewStreaming(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model:    "alpha",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("tell me a long story")},
	})
	defer stream.Close()
	var acc openai.ChatCompletionAccumulator
	if !stream.Next() {
		t.Fatalf("the stream on alpha did not start: %v", stream.Err())
	}
	acc.AddChunk(stream.Current())

	g.rewriteConfig(t, reloadConfig(endpoint, [][2]string{{"beta", betaModel}}, ""))
	if err := g.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitForLogCount(t, g, `"msg":"config reloaded"`, 1)

	if ids := g.modelIDs(t); !slices.Equal(ids, []string{"beta"}) {
		t.Errorf("GET /v1/models lists %v after the reload, want [beta]", ids)
	}
	_, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model:    "alpha",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || apiErr.Code != "model_not_found" {
		t.Errorf("a new request for alpha: %v, want 400 model_not_found", err)
	}
	answer, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model:    "beta",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi beta")},
	})
	if err != nil {
		t.Fatalf("a new request for beta: %v", err)
	}
	if got := answer.Choices[0].Message.Content; got != "echo: hi beta" {
		t.Errorf("beta answered %q", got)
	}
	if call := lastCall(t, em); call.ModelID != betaModel || call.Operation != "Converse" {
		t.Errorf("beta's request reached Bedrock as %s on %s, want Converse on %s", call.Operation, call.ModelID, betaModel)
	}

	// The stream opened before the reload is still alpha's: released, it
	// ends as it would have without the reload.
	close(release)
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("the stream open across the reload broke: %v", err)
	}
	if got := acc.Choices[0].Message.Content; got != "echo: tell me a long story" || acc.Choices[0].FinishReason != "stop" {
		t.Errorf("the stream open across the reload said %q, finish_reason %q", got, acc.Choices[0].FinishReason)
	}
	first := em.Calls()[0]
	if first.Operation != "ConverseStream" || first.ModelID != alphaModel || first.Status != http.StatusOK {
		t.Errorf("the stream reached Bedrock as %s on %s (status %d), want ConverseStream on %s", first.Operation, first.ModelID, first.Status, alphaModel)
	}

	// A broken file: every problem is logged, and beta is still served.
	g.rewriteConfig(t, brokenReloadConfig)
	if err := g.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitForLogCount(t, g, `"msg":"config reload failed: still serving the config loaded before"`, 1)
	logs := g.logs.String()
	for _, p := range brokenReloadProblems {
		if !strings.Contains(logs, "config reload refused: ") || !strings.Contains(logs, p) {
			t.Errorf("the problem with %s is not logged", p)
		}
	}
	if ids := g.modelIDs(t); !slices.Equal(ids, []string{"beta"}) {
		t.Errorf("GET /v1/models lists %v after a refused reload, want [beta]", ids)
	}
	if _, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model:    "beta",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("still there?")},
	}); err != nil {
		t.Errorf("beta after a refused reload: %v", err)
	}
	m := scrape(t, g)
	if ok, failed := m.value(t, "strata_config_reloads_total", "result", "success"), m.value(t, "strata_config_reloads_total", "result", "failure"); ok != 1 || failed != 1 {
		t.Errorf("strata_config_reloads_total: success %v, failure %v; want 1 and 1", ok, failed)
	}
	if v := m.value(t, "strata_config_last_reload_successful"); v != 0 {
		t.Errorf("strata_config_last_reload_successful = %v after a refused reload, want 0", v)
	}
}

// reloadAnswer is POST /config/reload's answer.
type reloadAnswer struct {
	Status          string   `json:"status"`
	Models          []string `json:"models"`
	ModelsAdded     []string `json:"models_added"`
	ModelsRemoved   []string `json:"models_removed"`
	ModelsChanged   []string `json:"models_changed"`
	SettingsChanged []string `json:"settings_changed"`
	RestartRequired []string `json:"restart_required"`
}

func postReload(t *testing.T, g *gateway, key string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, g.URL+"/config/reload", nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, raw
}

// POST /config/reload takes the master key only, answers what changed,
// and answers a broken file with a 400 naming every problem.
func TestConfigReloadRoute(t *testing.T) {
	_, endpoint := bedrockEmulator(t)
	auth := "general_settings:\n  master_key: os.environ/STRATA_MASTER_KEY\n"
	master := option.WithAPIKey(testMasterKey)
	g := startGateway(t, reloadConfig(endpoint, [][2]string{{"alpha", alphaModel}, {"keep", alphaModel}}, auth), keysEnv...)

	g.rewriteConfig(t, reloadConfig(endpoint, [][2]string{{"keep", alphaModel}, {"beta", betaModel}},
		auth+"  max_request_size_mb: 1\n  global_max_parallel_requests: 500\nrouter_settings:\n  num_retries: 2\n"))
	for _, key := range []string{"", "sk-not-the-master-key"} {
		status, raw := postReload(t, g, key)
		if status != http.StatusUnauthorized {
			t.Errorf("POST /config/reload with key %q: %d %s, want 401", key, status, raw)
		}
		errorBody(t, raw)
	}
	var virtual struct {
		Key string `json:"key"`
	}
	kg := &keyGateway{gateway: g, t: t}
	if status, raw := kg.call(http.MethodPost, "/key/generate", "Authorization", testMasterKey, `{}`, &virtual); status != http.StatusOK {
		t.Fatalf("/key/generate: %d %s", status, raw)
	}
	if status, raw := postReload(t, g, virtual.Key); status != http.StatusForbidden {
		t.Errorf("POST /config/reload with a virtual key: %d %s, want 403", status, raw)
	}
	if ids := g.modelIDs(t, master); !slices.Equal(ids, []string{"alpha", "keep"}) {
		t.Fatalf("refused reloads changed the models: %v", ids)
	}

	status, raw := postReload(t, g, testMasterKey)
	if status != http.StatusOK {
		t.Fatalf("POST /config/reload with the master key: %d %s", status, raw)
	}
	var got reloadAnswer
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := reloadAnswer{Status: "reloaded", Models: []string{"keep", "beta"}, ModelsAdded: []string{"beta"}, ModelsRemoved: []string{"alpha"},
		ModelsChanged: []string{}, SettingsChanged: []string{"router_settings.num_retries", "general_settings.max_request_size_mb"},
		RestartRequired: []string{"general_settings.global_max_parallel_requests"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("POST /config/reload answered %s\nwant %+v", raw, want)
	}
	if strings.Contains(string(raw), testMasterKey) {
		t.Error("the answer holds the master key")
	}
	if ids := g.modelIDs(t, master); !slices.Equal(ids, []string{"keep", "beta"}) {
		t.Errorf("GET /v1/models lists %v after the reload, want [keep beta]", ids)
	}
	// max_request_size_mb: 1 holds for requests from now on.
	large := `{"model":"keep","messages":[{"role":"user","content":"` + strings.Repeat("a", 3<<19) + `"}]}`
	if status, raw := kg.call(http.MethodPost, "/v1/chat/completions", "Authorization", testMasterKey, large, nil); status != http.StatusRequestEntityTooLarge {
		t.Errorf("a 1.5 MB request after max_request_size_mb became 1: %d %.300s, want 413", status, raw)
	}

	g.rewriteConfig(t, brokenReloadConfig)
	status, raw = postReload(t, g, testMasterKey)
	if status != http.StatusBadRequest {
		t.Fatalf("POST /config/reload of a broken file: %d %s, want 400", status, raw)
	}
	message, typ, _, code := errorBody(t, raw)
	if typ != "invalid_request_error" || code == nil || *code != "invalid_config" {
		t.Errorf("type %q, code %v", typ, code)
	}
	for _, p := range brokenReloadProblems {
		if !strings.Contains(message, p) {
			t.Errorf("the 400 does not name the problem with %s: %s", p, message)
		}
	}
	if ids := g.modelIDs(t, master); !slices.Equal(ids, []string{"keep", "beta"}) {
		t.Errorf("GET /v1/models lists %v after a refused reload, want [keep beta]", ids)
	}

	// A new master key replaces the old one at once.
	const rotated = "sk-master-e2e-rotated-never-logged"
	g.rewriteConfig(t, reloadConfig(endpoint, [][2]string{{"keep", alphaModel}, {"beta", betaModel}},
		"general_settings:\n  master_key: "+rotated+"\n  max_request_size_mb: 1\n  global_max_parallel_requests: 500\nrouter_settings:\n  num_retries: 2\n"))
	status, raw = postReload(t, g, testMasterKey)
	got = reloadAnswer{}
	if err := json.Unmarshal(raw, &got); status != http.StatusOK || err != nil {
		t.Fatalf("POST /config/reload rotating the master key: %d %s", status, raw)
	}
	if !slices.Equal(got.SettingsChanged, []string{"general_settings.master_key"}) || slices.Contains(got.RestartRequired, "general_settings.master_key") {
		t.Errorf("rotating the master key answered %s", raw)
	}
	if status, raw := postReload(t, g, testMasterKey); status != http.StatusUnauthorized {
		t.Errorf("the old master key after the rotation: %d %s, want 401", status, raw)
	}
	if status, raw := postReload(t, g, rotated); status != http.StatusOK {
		t.Errorf("the new master key: %d %s", status, raw)
	}
	for _, key := range []string{testMasterKey, rotated} {
		if strings.Contains(g.logs.String(), key) {
			t.Errorf("the master key %q was logged", key)
		}
	}
}
