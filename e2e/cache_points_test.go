package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/strata-gateway/strata/internal/emulator"
)

const cachePointsConfig = `model_list:
  - model_name: claude
    litellm_params:
      model: bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
      aws_bedrock_runtime_endpoint: %[1]s
      cache_control_injection_points:
        - location: message
          role: system
        - location: tool_config
  - model_name: llama
    litellm_params:
      model: bedrock/meta.llama3-3-70b-instruct-v1:0
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
      aws_bedrock_runtime_endpoint: %[1]s
      cache_control_injection_points:
        - location: message
          role: system
`

// cache_control_injection_points in litellm_params and in a request, and a
// client's cache_control with a ttl, reach Converse as cachePoint blocks
// where they say, streamed or not; a model without prompt caching gets
// none and the request is served, with a log line; a ttl Bedrock does not
// know is a 400 naming the field.
func TestCachePoints(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, fmt.Sprintf(cachePointsConfig, endpoint), seedEnv...)
	client := g.client()
	ctx := ctxTimeout(t)
	messages := []any{
		map[string]any{"role": "system", "content": "You answer questions about the policy."},
		map[string]any{"role": "user", "content": []any{
			map[string]any{"type": "text", "text": "the policy text", "cache_control": map[string]any{"type": "ephemeral", "ttl": "1h"}},
			map[string]any{"type": "text", "text": "what does it say?"},
		}},
	}
	params := openai.ChatCompletionNewParams{Model: "claude", Tools: []openai.ChatCompletionToolUnionParam{
		openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{Name: "lookup"}),
	}}

	out, err := client.Chat.Completions.New(ctx, params, option.WithJSONSet("messages", messages))
	if err != nil {
		t.Fatalf("chat: %v", err)
	}
	if !strings.HasPrefix(out.Choices[0].Message.Content, "echo: ") {
		t.Errorf("answer %q", out.Choices[0].Message.Content)
	}
	want := `system: text cachePoint | user: text cachePoint(1h) text | tools: toolSpec cachePoint`
	if got := cacheLayout(t, lastCall(t, em)); got != want {
		t.Errorf("Bedrock got %s, want %s", got, want)
	}

	// Streamed, with the request's injection points replacing the
	// deployment's: the last message, for an hour.
	stream := client.Chat.Completions.NewStreaming(ctx, params, option.WithJSONSet("messages", messages),
		option.WithJSONSet("cache_control_injection_points", []any{map[string]any{"location": "message", "index": -1, "control": map[string]any{"type": "ephemeral", "ttl": "1h"}}}))
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	want = `system: text | user: text cachePoint(1h) text | tools: toolSpec`
	if got := cacheLayout(t, lastCall(t, em)); got != want {
		t.Errorf("streamed: Bedrock got %s, want %s", got, want)
	}

	// A model without prompt caching: served without cache points.
	params.Model = "llama"
	if _, err := client.Chat.Completions.New(ctx, params, option.WithJSONSet("messages", messages)); err != nil {
		t.Fatalf("llama: %v", err)
	}
	call := lastCall(t, em)
	if got := cacheLayout(t, call); strings.Contains(got, "cachePoint") || call.Status != http.StatusOK {
		t.Errorf("a model without caching got %s (status %d)", got, call.Status)
	}
	if logs := g.logs.String(); !strings.Contains(logs, `"param":"cache_control"`) || !strings.Contains(logs, "has no prompt caching") {
		t.Errorf("no log line says the cache points were not sent:\n%s", logs)
	}

	// Values Bedrock does not know.
	calls := len(em.Calls())
	params.Model = "claude"
	bad := []any{map[string]any{"role": "user", "content": []any{
		map[string]any{"type": "text", "text": "hi", "cache_control": map[string]any{"type": "ephemeral", "ttl": "2h"}},
	}}}
	for _, tc := range []struct {
		opt   option.RequestOption
		param string
	}{
		{option.WithJSONSet("messages", bad), "messages[0].content[0].cache_control.ttl"},
		{option.WithJSONSet("cache_control_injection_points", []any{map[string]any{"location": "message", "role": "narrator"}}), "cache_control_injection_points[0].role"},
		{option.WithJSONSet("cache_control_injection_points", []any{map[string]any{"location": "everywhere"}}), "cache_control_injection_points[0].location"},
	} {
		_, err := client.Chat.Completions.New(ctx, params, option.WithJSONSet("messages", messages), tc.opt)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || apiErr.Param != tc.param {
			t.Errorf("%s: got %v, want a 400 naming it", tc.param, err)
		}
	}
	if n := len(em.Calls()); n != calls {
		t.Errorf("a refused request reached Bedrock (%d calls, had %d)", n, calls)
	}
}

// A bad injection point in litellm_params is a problem of the config,
// named by its key.
func TestCachePointsBadConfig(t *testing.T) {
	stdout, stderr, status, _ := runCheck(t, `model_list:
  - model_name: claude
    litellm_params:
      model: bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0
      aws_region_name: us-east-1
      cache_control_injection_points:
        - location: message
          role: system
          control: {type: ephemeral, ttl: 2h}
`)
	out := stdout + stderr
	if status != 1 || !strings.Contains(out, "config.yaml:2: model_list[0] (claude): litellm_params: cache_control_injection_points[0].control.ttl: must be 5m or 1h") {
		t.Errorf("status %d, output:\n%s", status, out)
	}
}

// cacheLayout renders where a Converse body has its cache points:
// "system: text cachePoint | user: text cachePoint(1h) | tools: toolSpec".
func cacheLayout(t *testing.T, call emulator.Call) string {
	t.Helper()
	var body struct {
		System   []map[string]json.RawMessage `json:"system"`
		Messages []struct {
			Role    string                       `json:"role"`
			Content []map[string]json.RawMessage `json:"content"`
		} `json:"messages"`
		ToolConfig *struct {
			Tools []map[string]json.RawMessage `json:"tools"`
		} `json:"toolConfig"`
	}
	if err := json.Unmarshal(call.Body, &body); err != nil {
		t.Fatalf("body: %v", err)
	}
	render := func(blocks []map[string]json.RawMessage) string {
		var parts []string
		for _, b := range blocks {
			for k, v := range b {
				if k == "cachePoint" {
					var cp struct{ Type, TTL string }
					_ = json.Unmarshal(v, &cp)
					if cp.TTL != "" {
						k += "(" + cp.TTL + ")"
					}
				}
				parts = append(parts, k)
			}
		}
		return strings.Join(parts, " ")
	}
	var out []string
	if len(body.System) > 0 {
		out = append(out, "system: "+render(body.System))
	}
	for _, m := range body.Messages {
		out = append(out, m.Role+": "+render(m.Content))
	}
	if body.ToolConfig != nil {
		out = append(out, "tools: "+render(body.ToolConfig.Tools))
	}
	return strings.Join(out, " | ")
}
