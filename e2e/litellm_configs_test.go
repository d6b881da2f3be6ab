package e2e

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/strata-gateway/strata/internal/emulator"
)

// Config files shaped like those teams publish for LiteLLM in front of
// Bedrock (testdata/litellm), each started unchanged with strata --config.
// Each case says which models /v1/models lists, which are Bedrock models
// to call, which belong to other providers (a 400 naming the provider),
// and what the startup log must say.
type litellmConfigCase struct {
	file       string
	env        []string
	listed     []string          // /v1/models, in config order
	chat       []string          // answered by a chat call
	embed      []string          // answered by an embeddings call
	unserved   map[string]string // model name -> the provider its 400 names
	warnings   []string          // each in one startup WARN line
	infos      []string          // each in one startup INFO line
	more       func(t *testing.T, g *gateway, em *emulator.Emulator)
	forbidden  []string // in no startup line
	notIgnored []string // in no startup line listing ignored keys
}

func TestLiteLLMConfigsStart(t *testing.T) {
	cases := []litellmConfigCase{
		{
			file:     "mixed_providers.yaml",
			listed:   []string{"claude-sonnet", "nova-lite"},
			chat:     []string{"claude-sonnet", "nova-lite"},
			unserved: map[string]string{"gpt-4o": "openai", "gpt-4o-mini": "openai", "azure-gpt-4o": "azure", "gemini-pro": "vertex_ai", "gemini-flash": "gemini", "llama-local": "ollama"},
			warnings: []string{
				"model_list: 6 entries are for providers other than AWS Bedrock, which Strata does not serve; requests for them get a 400: " +
					"gpt-4o (openai, line 5), gpt-4o-mini (openai, line 9), azure-gpt-4o (azure, line 13), gemini-pro (vertex_ai, line 21), gemini-flash (gemini, line 26), llama-local (ollama, line 30)",
				`router_settings.fallbacks[0].gpt-4o: "gpt-4o" is an openai model ("openai/gpt-4o"), which Strata does not serve: this fallback entry is skipped`,
				`litellm_settings: callbacks not implemented by Strata, which only sends traces over OTLP ("otel"): "langfuse" in success_callback (line 50), "langfuse" in failure_callback (line 51)`,
				"litellm_settings: ignored, not implemented by Strata: set_verbose (line 52), json_logs (line 53)",
				"router_settings: ignored, not implemented by Strata: enable_pre_call_checks (line 58)",
				`router_settings.model_group_alias.gpt-4: "azure-gpt-4o" is an azure model ("azure/gpt-4o-prod"), which Strata does not serve: the alias is skipped`,
			},
			more: func(t *testing.T, g *gateway, em *emulator.Emulator) {
				// The alias of a Bedrock model serves it.
				chatOnce(t, g.client(), "claude")
				if got := lastCall(t, em).ModelID; got != "anthropic.claude-3-5-sonnet-20240620-v1:0" {
					t.Errorf("alias claude reached %s", got)
				}
			},
			// Nothing of the other providers' entries is read: their unset
			// variables are no concern of Strata's.
			forbidden: []string{"OPENAI_API_KEY", "AZURE_API_KEY", "vertex_project", "api_version"},
		},
		{
			file:     "unprefixed_ids.yaml",
			listed:   []string{"claude-haiku", "claude-sonnet-4-5", "nova-pro-eu", "llama-3-3", "haiku-profile", "titan-embed"},
			chat:     []string{"claude-haiku", "claude-sonnet-4-5", "nova-pro-eu", "llama-3-3", "haiku-profile"},
			embed:    []string{"titan-embed"},
			unserved: map[string]string{"gpt-4o": "openai"},
			warnings: []string{"model_list: 1 entry is for providers other than AWS Bedrock, which Strata does not serve; requests for them get a 400: gpt-4o (openai, line 28)"},
			infos: []string{
				`model_list[0].litellm_params.model: "anthropic.claude-3-haiku-20240307-v1:0" has the shape of a Bedrock model id: served on Bedrock`,
				`model_list[1].litellm_params.model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0" has the shape of a Bedrock model id`,
				`model_list[2].litellm_params.model: "eu.amazon.nova-pro-v1:0" has the shape of a Bedrock model id`,
				`model_list[3].litellm_params.model: "meta.llama3-3-70b-instruct-v1:0" has the shape of a Bedrock model id`,
				`model_list[4].litellm_params.model: "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0" has the shape of a Bedrock model id`,
				`model_list[5].litellm_params.model: "amazon.titan-embed-text-v2:0" has the shape of a Bedrock model id`,
			},
			more: func(t *testing.T, g *gateway, em *emulator.Emulator) {
				// Each id reached Bedrock as written, in its own region.
				want := map[string]string{
					"anthropic.claude-3-haiku-20240307-v1:0":       "us-east-1",
					"us.anthropic.claude-sonnet-4-5-20250929-v1:0": "us-west-2",
					"eu.amazon.nova-pro-v1:0":                      "eu-west-1",
					"meta.llama3-3-70b-instruct-v1:0":              "us-east-2",
					"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0": "us-east-1",
					"amazon.titan-embed-text-v2:0": "us-east-1",
				}
				got := map[string]string{}
				for _, c := range em.Calls() {
					got[c.ModelID] = c.Region
				}
				for id, region := range want {
					if got[id] != region {
						t.Errorf("Bedrock call for %s in region %q, want %q (calls: %v)", id, got[id], region, got)
					}
				}
			},
		},
		{
			file:     "dangling_fallbacks.yaml",
			listed:   []string{"claude-sonnet", "claude-haiku"},
			chat:     []string{"claude-sonnet", "claude-haiku"},
			unserved: map[string]string{"azure-gpt-4": "azure"},
			warnings: []string{
				`litellm_settings.fallbacks[0].claude-sonnet[0]: "gpt-4-turbo" is not a model_name in model_list: skipped when the fallbacks run`,
				`litellm_settings.context_window_fallbacks[0].claude-haiku[0]: "claude-3-opus-200k" is not a model_name in model_list: skipped when the fallbacks run`,
				`litellm_settings.content_policy_fallbacks[0].claude-sonnet: names no model to fall back to: this fallback entry is skipped`,
				`router_settings.fallbacks[0].claude-sonnet[0]: "azure-gpt-4" is an azure model ("azure/gpt-4"), which Strata does not serve: skipped when the fallbacks run`,
				`router_settings.fallbacks[1].mistral-large: "mistral-large" is not a model_name in model_list: this fallback entry is skipped`,
			},
			more: func(t *testing.T, g *gateway, em *emulator.Emulator) {
				// The chain runs past the targets it skipped: claude-sonnet
				// fails, claude-haiku answers.
				em.Fault(emulator.Fault{Model: "anthropic.claude-3-5-sonnet-20240620-v1:0", Kind: emulator.FaultAccessDenied})
				status, raw, hdr := g.post(t, "/v1/chat/completions", `{"model": "claude-sonnet", "messages": [{"role": "user", "content": "hi"}]}`)
				if status != http.StatusOK {
					t.Fatalf("status %d: %s", status, raw)
				}
				if got := lastCall(t, em).ModelID; got != "anthropic.claude-3-haiku-20240307-v1:0" {
					t.Errorf("answered by %s, want the fallback claude-haiku; headers %v", got, hdr)
				}
			},
		},
		{
			file:   "placeholder_credentials.yaml",
			env:    []string{}, // EU_AWS_ACCESS_KEY_ID and EU_AWS_SECRET_ACCESS_KEY are not set
			listed: []string{"claude", "nova-eu", "nova"},
			chat:   []string{"claude", "nova"},
			warnings: []string{
				"2 of 4 deployments cannot be built and answer with their problems; the others serve",
			},
			more: func(t *testing.T, g *gateway, em *emulator.Emulator) {
				problems := startupProblems(t, g)
				for id, want := range map[string][]string{
					"claude#2":  {"placeholder_credentials.yaml:8: model_list[1] (claude)", "aws_role_name must be a role ARN", "arn:aws:iam::<ACCOUNT>:role/BedrockCrossAccount"},
					"nova-eu#1": {"placeholder_credentials.yaml:17: model_list[2].litellm_params.aws_access_key_id: environment variable EU_AWS_ACCESS_KEY_ID is not set"},
				} {
					for _, w := range want {
						if !strings.Contains(problems[id], w) {
							t.Errorf("startup problem of %s %q lacks %q", id, problems[id], w)
						}
					}
				}
				if !strings.Contains(problems["nova-eu#1"], "EU_AWS_SECRET_ACCESS_KEY is not set") {
					t.Errorf("every problem of nova-eu#1 is reported: %q", problems["nova-eu#1"])
				}

				// claude#2 is never picked while claude#1 serves.
				client := g.client()
				for range 8 {
					chatOnce(t, client, "claude")
				}
				for _, c := range em.Calls() {
					if c.Status != http.StatusOK {
						t.Errorf("a call failed upstream: %+v", c)
					}
				}

				// nova-eu falls back to nova; without fallbacks it answers
				// with what is wrong, naming the setting.
				status, raw, _ := g.post(t, "/v1/chat/completions", `{"model": "nova-eu", "messages": [{"role": "user", "content": "hi"}]}`)
				if status != http.StatusOK || lastCall(t, em).ModelID != "amazon.nova-lite-v1:0" {
					t.Errorf("nova-eu with its fallback: %d %s", status, raw)
				}
				status, raw, _ = g.post(t, "/v1/chat/completions", `{"model": "nova-eu", "messages": [{"role": "user", "content": "hi"}], "fallbacks": []}`)
				msg, typ, _, code := errorBody(t, raw)
				if status != http.StatusServiceUnavailable || typ != "service_unavailable_error" || code == nil || *code != "deployment_misconfigured" ||
					!strings.Contains(msg, "model_list[2].litellm_params.aws_access_key_id: environment variable EU_AWS_ACCESS_KEY_ID is not set") {
					t.Errorf("nova-eu without fallbacks: %d %s", status, raw)
				}

				// /health shows the two broken deployments as unhealthy.
				resp, err := http.Get(g.URL + "/health")
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var health struct {
					Healthy []struct {
						Deployment string `json:"deployment"`
					} `json:"healthy_endpoints"`
					Unhealthy []struct {
						Deployment string `json:"deployment"`
						Error      string `json:"error"`
					} `json:"unhealthy_endpoints"`
				}
				if err := json.NewDecoder(resp.Body).Decode(&health); err != nil {
					t.Fatal(err)
				}
				unhealthy := map[string]string{}
				for _, e := range health.Unhealthy {
					unhealthy[e.Deployment] = e.Error
				}
				if len(health.Healthy) != 2 || len(unhealthy) != 2 ||
					!strings.Contains(unhealthy["claude#2"], "aws_role_name") || !strings.Contains(unhealthy["nova-eu#1"], "EU_AWS_ACCESS_KEY_ID") {
					t.Errorf("/health: %+v", health)
				}
			},
		},
		{
			file:   "drop_params.yaml",
			listed: []string{"claude-lenient", "claude-strict", "nova-no-temperature"},
			chat:   []string{"claude-lenient", "claude-strict", "nova-no-temperature"},
			more: func(t *testing.T, g *gateway, em *emulator.Emulator) {
				body := func(model string) string {
					return `{"model": "` + model + `", "messages": [{"role": "user", "content": "hi"}], "logit_bias": {"50256": -100}, "temperature": 0.3, "user": "u-42"}`
				}
				// drop_params on the deployment wins over the global false.
				if status, raw, _ := g.post(t, "/v1/chat/completions", body("claude-lenient")); status != http.StatusOK {
					t.Errorf("claude-lenient: %d %s", status, raw)
				}
				status, raw, _ := g.post(t, "/v1/chat/completions", body("claude-strict"))
				if msg, _, param, _ := errorBody(t, raw); status != http.StatusBadRequest || param == nil || *param != "logit_bias" || !strings.Contains(msg, "drop_params") {
					t.Errorf("claude-strict: %d %s", status, raw)
				}
				// additional_drop_params: temperature never reaches Bedrock.
				status, raw, _ = g.post(t, "/v1/chat/completions", `{"model": "nova-no-temperature", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.3, "top_p": 0.5, "user": "u-42"}`)
				if status != http.StatusOK {
					t.Fatalf("nova-no-temperature: %d %s", status, raw)
				}
				ic := lastCall(t, em).Converse.InferenceConfig
				if ic == nil || ic.Temperature != nil || ic.TopP == nil || *ic.TopP != 0.5 {
					t.Errorf("inferenceConfig reaching Bedrock: %+v, want top_p alone", ic)
				}
				// The log says so (it is read off the process's stderr as it comes).
				waitForLog(t, g, `"param":"temperature","reason":"dropped by the deployment's additional_drop_params"`)
			},
		},
		{
			file:     "global_budget.yaml",
			env:      []string{"AWS_REGION_NAME=us-east-1"}, // REDIS_HOST, REDIS_PASSWORD and OPENAI_API_KEY are not set
			listed:   []string{"claude-haiku", "nova-micro"},
			chat:     []string{"claude-haiku", "nova-micro"},
			unserved: map[string]string{"o1-preview": "openai"},
			warnings: []string{
				"model_list: 1 entry is for providers other than AWS Bedrock, which Strata does not serve; requests for them get a 400: o1-preview (openai, line 15)",
				"cache_params (line 25)",
				"general_settings: ignored, not implemented by Strata: alerting (line 31)",
			},
			// The gateway's budget and spend batching are served, not listed with the ignored keys.
			notIgnored: []string{"max_budget", "budget_duration", "proxy_batch_write_at"},
		},
	}
	for _, c := range cases {
		t.Run(strings.TrimSuffix(c.file, ".yaml"), func(t *testing.T) {
			em, endpoint := anyRegionEmulator(t)
			env := append([]string{
				"AWS_ACCESS_KEY_ID=" + testAccessKey,
				"AWS_SECRET_ACCESS_KEY=" + testSecretKey,
				"AWS_REGION=us-east-1",
				"AWS_ENDPOINT_URL_BEDROCK_RUNTIME=" + endpoint,
			}, c.env...)
			// A copy, started by its absolute path: the gateway keeps its
			// default database next to the config, out of the tree.
			raw, err := os.ReadFile(filepath.Join("testdata", "litellm", c.file))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), c.file)
			if err := os.WriteFile(path, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			g := startStrata(t, env, "--config", path)
			checkLiteLLMConfig(t, g, c)
			if c.more != nil {
				c.more(t, g, em)
			}
		})
	}
}

func checkLiteLLMConfig(t *testing.T, g *gateway, c litellmConfigCase) {
	t.Helper()
	client := g.client()
	page, err := client.Models.List(ctxTimeout(t))
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, m := range page.Data {
		listed = append(listed, m.ID)
	}
	if !slices.Equal(listed, c.listed) {
		t.Errorf("/v1/models = %v, want %v", listed, c.listed)
	}
	for _, model := range c.chat {
		chatOnce(t, client, model)
	}
	for _, model := range c.embed {
		resp, err := client.Embeddings.New(ctxTimeout(t), openai.EmbeddingNewParams{
			Model: model, Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hi")},
		})
		if err != nil || len(resp.Data) != 1 || len(resp.Data[0].Embedding) == 0 {
			t.Errorf("embeddings of %s: %v", model, err)
		}
	}
	for model, provider := range c.unserved {
		_, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
			Model:    model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || apiErr.Param != "model" || apiErr.Code != "model_provider_not_served" {
			t.Errorf("%s: %v, want a 400 about model", model, err)
			continue
		}
		for _, want := range []string{`"` + model + `" is a`, " " + provider + " model", "this gateway serves AWS Bedrock models only"} {
			if !strings.Contains(apiErr.Message, want) {
				t.Errorf("%s: message %q lacks %q", model, apiErr.Message, want)
			}
		}
		if strings.Contains(apiErr.Message, "bedrock/"+model) {
			t.Errorf("%s: message suggests bedrock/%s: %s", model, model, apiErr.Message)
		}
		// The other surfaces say the same, each in its own error shape.
		for path, body := range map[string]string{
			"/v1/embeddings": `{"model": "` + model + `", "input": "hi"}`,
			"/v1/responses":  `{"model": "` + model + `", "input": "hi"}`,
			"/v1/messages":   `{"model": "` + model + `", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}`,
		} {
			status, raw, _ := g.post(t, path, body)
			if status != http.StatusBadRequest || !strings.Contains(string(raw), " "+provider+" model") || !strings.Contains(string(raw), "serves AWS Bedrock models only") {
				t.Errorf("%s for %s: %d %s", path, model, status, raw)
			}
		}
	}

	lines := logLines(t, g)
	startup := lines[:slices.IndexFunc(lines, func(l logLine) bool { return l.Msg == "strata listening" })]
	for level, wants := range map[string][]string{"WARN": c.warnings, "INFO": c.infos} {
		for _, want := range wants {
			if !slices.ContainsFunc(startup, func(l logLine) bool { return l.Level == level && strings.Contains(l.Msg, want) }) {
				t.Errorf("no startup %s line says %q", level, want)
			}
		}
	}
	for _, l := range startup {
		if strings.Contains(l.Msg, "ignored, not implemented by Strata") {
			for _, key := range c.notIgnored {
				if strings.Contains(l.Msg, key) {
					t.Errorf("%s is listed as ignored: %s", key, l.Msg)
				}
			}
		}
		for _, f := range c.forbidden {
			if strings.Contains(l.Msg, f) || strings.Contains(l.Raw, f) {
				t.Errorf("startup line mentions %s: %s", f, l.Raw)
			}
		}
	}
	sections := map[string]int{}
	for _, l := range startup {
		if section, _, ok := strings.Cut(l.Msg, ": ignored, not implemented by Strata"); ok {
			sections[section]++
		}
	}
	for section, n := range sections {
		if n != 1 {
			t.Errorf("%d lines list the ignored keys of %s, want 1", n, section)
		}
	}
}

func chatOnce(t *testing.T, client openai.Client, model string) {
	t.Helper()
	resp, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	if err != nil {
		t.Errorf("chat with %s: %v", model, err)
		return
	}
	if len(resp.Choices) != 1 || resp.Choices[0].Message.Content == "" {
		t.Errorf("chat with %s: %+v", model, resp)
	}
}

// anyRegionEmulator is the emulator accepting calls signed for any region,
// as the config files name several.
func anyRegionEmulator(t *testing.T) (*emulator.Emulator, string) {
	t.Helper()
	em := emulator.New(emulator.Options{Keys: map[string]emulator.Key{testAccessKey: {Secret: testSecretKey}}})
	srv := httptest.NewServer(em)
	t.Cleanup(srv.Close)
	return em, srv.URL
}

// logLine is one line of the gateway's JSON log.
type logLine struct {
	Level, Msg string
	Attrs      map[string]any
	Raw        string
}

func logLines(t *testing.T, g *gateway) []logLine {
	t.Helper()
	var out []logLine
	for _, raw := range strings.Split(strings.TrimSpace(g.logs.String()), "\n") {
		var attrs map[string]any
		if json.Unmarshal([]byte(raw), &attrs) != nil {
			continue
		}
		level, _ := attrs["level"].(string)
		msg, _ := attrs["msg"].(string)
		out = append(out, logLine{Level: level, Msg: msg, Attrs: attrs, Raw: raw})
	}
	return out
}

// startupProblems gathers, by deployment, the problems logged at startup
// for deployments that cannot be built.
func startupProblems(t *testing.T, g *gateway) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range logLines(t, g) {
		if l.Level == "ERROR" && strings.HasPrefix(l.Msg, "deployment cannot be built") {
			id, _ := l.Attrs["deployment"].(string)
			problem, _ := l.Attrs["problem"].(string)
			out[id] += problem + "\n"
		}
	}
	return out
}
