package spend

import (
	"math"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

func TestLookup(t *testing.T) {
	for _, tt := range []struct {
		id     string
		in     float64 // per million
		known  bool
		markup bool
	}{
		{"anthropic.claude-3-5-sonnet-20240620-v1:0", 3, true, false},
		{"us.anthropic.claude-3-5-sonnet-20240620-v1:0", 3, true, false}, // no markup for this model
		{"arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0", 0.25, true, false},
		{"anthropic.claude-sonnet-4-6", 3, true, false},
		{"global.anthropic.claude-sonnet-4-6", 3, true, false},
		{"eu.anthropic.claude-sonnet-4-6", 3.3, true, true},
		{"anthropic.claude-sonnet-4-20250514-v1:0", 3, true, false},
		{"meta.llama3-70b-instruct-v1:0", 2.65, true, false},
		{"amazon.titan-embed-text-v2:0", 0.02, true, false},
		{"example.private-model-v1", 0, false, false},
		{"arn:aws:bedrock:us-east-1:111122223333:provisioned-model/a1b2c3", 0, false, false},
	} {
		p, ok := Lookup(tt.id)
		if ok != tt.known || !near(p.InputPerToken*1e6, tt.in) {
			t.Errorf("Lookup(%q) = %v per million, %v; want %v, %v", tt.id, p.InputPerToken*1e6, ok, tt.in, tt.known)
		}
	}
}

func TestCost(t *testing.T) {
	p, _ := Lookup("anthropic.claude-3-5-sonnet-20240620-v1:0")
	// 1,000 input tokens of which 200 cache reads and 100 cache writes, 500 output.
	got := p.Cost(Usage{InputTokens: 1000, CacheReadTokens: 200, CacheWriteTokens: 100, OutputTokens: 500})
	want := 700*3e-6 + 200*0.3e-6 + 100*3.75e-6 + 500*15e-6
	if !near(got, want) {
		t.Errorf("Cost = %v, want %v", got, want)
	}
	// A model without cache prices bills cache tokens as input.
	p, _ = Lookup("meta.llama3-8b-instruct-v1:0")
	if got, want := p.Cost(Usage{InputTokens: 100, CacheReadTokens: 40}), 100*0.3e-6; !near(got, want) {
		t.Errorf("Cost without cache prices = %v, want %v", got, want)
	}
	p, _ = Lookup("stability.stable-diffusion-xl-v1")
	if got := p.Cost(Usage{OutputImages: 3}); !near(got, 0.12) {
		t.Errorf("three SDXL images cost %v, want 0.12", got)
	}
	p, _ = Lookup("amazon.titan-embed-text-v1")
	if got := p.Cost(Usage{InputTokens: 1_000_000}); !near(got, 0.1) {
		t.Errorf("a million Titan embedding tokens cost %v, want 0.1", got)
	}
}

func TestWithOverrides(t *testing.T) {
	base, known := Lookup("anthropic.claude-3-haiku-20240307-v1:0")
	p, known, err := WithOverrides(base, known,
		map[string]any{"input_cost_per_token": 1.0, "output_cost_per_token": "2", "max_tokens": 10},
		map[string]float64{"input_cost_per_token": 3})
	if err != nil || !known {
		t.Fatalf("WithOverrides: %v, known %v", err, known)
	}
	if p.InputPerToken != 3 || p.OutputPerToken != 2 || !near(p.CacheReadPerToken, 0.025e-6) {
		t.Errorf("litellm_params must win over model_info, which wins over the table: %+v", p)
	}
	// An unknown model gets a price from overrides alone.
	_, known, err = WithOverrides(Price{}, false, nil, map[string]float64{"output_cost_per_image": 0.5})
	if err != nil || !known {
		t.Errorf("override of an unknown model: known %v, %v", known, err)
	}
	_, _, err = WithOverrides(Price{}, false, map[string]any{"output_cost_per_token": "cheap"}, nil)
	if err == nil || !strings.Contains(err.Error(), "model_info.output_cost_per_token") {
		t.Errorf("bad model_info price: %v", err)
	}
}

// A request is priced for the tier Bedrock served it on: flex at half the
// standard price, priority at 1.75 times it, default, reserved and an
// unreported tier at the standard price; a deployment's own tier prices
// (LiteLLM's *_flex and *_priority keys) win field by field.
func TestCostByServiceTier(t *testing.T) {
	p, _ := Lookup("amazon.nova-pro-v1:0")
	u := Usage{InputTokens: 1_000_000, OutputTokens: 1_000_000}
	standard := 0.80 + 3.20
	for tier, want := range map[string]float64{"": standard, "default": standard, "reserved": standard, "flex": standard / 2, "priority": standard * 1.75} {
		u.ServiceTier = tier
		if got := p.Cost(u); !near(got, want) {
			t.Errorf("tier %q costs %v, want %v", tier, got, want)
		}
	}
	if q, _ := Lookup("cohere.rerank-v3-5:0"); !near(q.Cost(Usage{Queries: 3}), 0.006) {
		t.Errorf("three rerank queries cost %v, want 0.006", q.Cost(Usage{Queries: 3}))
	}

	own, known, err := WithOverrides(p, true, map[string]any{"input_cost_per_token_flex": 1e-7}, map[string]float64{"output_cost_per_token_priority": 5e-6})
	if err != nil || !known {
		t.Fatal(err)
	}
	u.ServiceTier = "flex"
	if got, want := own.Cost(u), 0.1+3.20/2; !near(got, want) {
		t.Errorf("flex with its own input price costs %v, want %v", got, want)
	}
	u.ServiceTier = "priority"
	if got, want := own.Cost(u), 0.80*1.75+5; !near(got, want) {
		t.Errorf("priority with its own output price costs %v, want %v", got, want)
	}
	u.ServiceTier = ""
	if got := own.Cost(u); !near(got, standard) {
		t.Errorf("standard with tier overrides costs %v, want %v", got, standard)
	}
}
