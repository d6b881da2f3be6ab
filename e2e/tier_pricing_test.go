package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/param"

	"github.com/strata-gateway/strata/internal/emulator"
)

// Spend follows the tier Bedrock served: the same answer costs half on
// flex and 1.75 times on priority, and a deployment's own flex price
// replaces the factor for the field it sets.
func TestServiceTierPricing(t *testing.T) {
	_, endpoint := bedrockEmulator(t)
	entry := func(name, extra string) string {
		return fmt.Sprintf(`  - model_name: %s
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
      aws_bedrock_runtime_endpoint: %s
%s`, name, endpoint, extra)
	}
	g := startGateway(t, "model_list:\n"+entry("claude", "")+entry("claude-own-flex", "      output_cost_per_token_flex: 0.001\n"), seedEnv...)

	ask := func(model, tier string) (cost float64, inTokens, outTokens int) {
		t.Helper()
		body := fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"price me the same every time"}]`, model)
		if tier != "" {
			body += fmt.Sprintf(`,"service_tier":%q`, tier)
		}
		status, raw, h := g.post(t, "/v1/chat/completions", body+"}")
		var out struct {
			ServiceTier string `json:"service_tier"`
			Usage       struct {
				PromptTokens     int `json:"prompt_tokens"`
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		if status != http.StatusOK || json.Unmarshal(raw, &out) != nil || out.ServiceTier != tier {
			t.Fatalf("%s on %q: %d %s", model, tier, status, raw)
		}
		cost, err := strconv.ParseFloat(h.Get("X-Litellm-Response-Cost"), 64)
		if err != nil || cost <= 0 {
			t.Fatalf("%s on %q: cost header %q", model, tier, h.Get("X-Litellm-Response-Cost"))
		}
		return cost, out.Usage.PromptTokens, out.Usage.CompletionTokens
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-12 }
	standard, in, out := ask("claude", "")
	if want := float64(in)*3e-6 + float64(out)*15e-6; !near(standard, want) {
		t.Errorf("standard cost %v, want %v for %d+%d tokens", standard, want, in, out)
	}
	if c, _, _ := ask("claude", "default"); !near(c, standard) {
		t.Errorf("default costs %v, want the standard %v", c, standard)
	}
	if c, _, _ := ask("claude", "flex"); !near(c, standard/2) {
		t.Errorf("flex costs %v, want half of %v", c, standard)
	}
	if c, _, _ := ask("claude", "priority"); !near(c, standard*1.75) {
		t.Errorf("priority costs %v, want 1.75 times %v", c, standard)
	}
	if c, _, _ := ask("claude-own-flex", "flex"); !near(c, float64(in)*3e-6/2+float64(out)*0.001) {
		t.Errorf("flex with its own output price costs %v, want %v", c, float64(in)*3e-6/2+float64(out)*0.001)
	}

	// A stream is priced for its tier too, usage asked for or not: the
	// cost comes in the trailer.
	for _, includeUsage := range []bool{true, false} {
		req, _ := http.NewRequest(http.MethodPost, g.URL+"/v1/chat/completions", strings.NewReader(fmt.Sprintf(
			`{"model":"claude","stream":true,"stream_options":{"include_usage":%v},"service_tier":"flex","messages":[{"role":"user","content":"price me the same every time"}]}`, includeUsage)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if got, err := strconv.ParseFloat(resp.Trailer.Get("X-Litellm-Response-Cost"), 64); err != nil || !near(got, standard/2) {
			t.Errorf("flex stream (include_usage %v) cost trailer %q, want %v", includeUsage, resp.Trailer.Get("X-Litellm-Response-Cost"), standard/2)
		}
	}
}

// A model served through InvokeModel gets its service tier and latency
// profile as InvokeModel's headers, never in the native body, and the tier
// the answer's headers name comes back as service_tier, streamed or not.
func TestServiceTierOnInvokeModel(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, fmt.Sprintf(`model_list:
  - model_name: llama
    litellm_params:
      model: bedrock/invoke/meta.llama3-70b-instruct-v1:0
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
      aws_bedrock_runtime_endpoint: %s
      performanceConfig:
        latency: optimized
`, endpoint), seedEnv...)
	client := g.client()
	ctx := ctxTimeout(t)
	params := openai.ChatCompletionNewParams{Model: "llama", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
		ServiceTier: openai.ChatCompletionNewParamsServiceTierFlex}
	out, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if out.ServiceTier != openai.ChatCompletionServiceTierFlex {
		t.Errorf("service_tier %q, want flex", out.ServiceTier)
	}
	assertInvokeHeaders(t, lastCall(t, em), "InvokeModel", "flex", "optimized")

	params.ServiceTier = openai.ChatCompletionNewParamsServiceTierPriority
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: param.NewOpt(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var served openai.ChatCompletionChunkServiceTier
	for stream.Next() {
		if c := stream.Current(); c.ServiceTier != "" {
			served = c.ServiceTier
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if served != openai.ChatCompletionChunkServiceTierPriority {
		t.Errorf("streamed service_tier %q, want priority", served)
	}
	assertInvokeHeaders(t, lastCall(t, em), "InvokeModelWithResponseStream", "priority", "optimized")
}

func assertInvokeHeaders(t *testing.T, call emulator.Call, op, tier, latency string) {
	t.Helper()
	if call.Operation != op || call.Status != http.StatusOK ||
		call.Header.Get("X-Amzn-Bedrock-Service-Tier") != tier || call.Header.Get("X-Amzn-Bedrock-PerformanceConfig-Latency") != latency {
		t.Errorf("%s (status %d) got tier %q, latency %q; want %s with %q, %q", call.Operation, call.Status,
			call.Header.Get("X-Amzn-Bedrock-Service-Tier"), call.Header.Get("X-Amzn-Bedrock-PerformanceConfig-Latency"), op, tier, latency)
	}
	for _, field := range []string{"service_tier", "serviceTier", "performanceConfig"} {
		if strings.Contains(string(call.Body), field) {
			t.Errorf("the native body carries %s: %s", field, call.Body)
		}
	}
}
