package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"testing"
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
}
