package config

import (
	"strings"
	"testing"
	"time"
)

func TestGatewayBudgetAndPrices(t *testing.T) {
	const file = `
model_list:
  - model_name: m
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      input_cost_per_token: 0.000001
      output_cost_per_image: 0.5
litellm_settings:
  max_budget: 0
  budget_duration: 30d
`
	cfg, err := Parse([]byte(file), "budget.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Settings.MaxBudget == nil || *cfg.Settings.MaxBudget != 0 {
		t.Errorf("MaxBudget = %v, want a budget of 0", cfg.Settings.MaxBudget)
	}
	if cfg.Settings.BudgetDuration != "30d" {
		t.Errorf("BudgetDuration = %v", cfg.Settings.BudgetDuration)
	}
	m := cfg.Models[0]
	if m.Deployment.Prices["input_cost_per_token"] != 0.000001 || m.Deployment.Prices["output_cost_per_image"] != 0.5 {
		t.Errorf("Prices = %v", m.Deployment.Prices)
	}
	if len(m.Params) != 0 || len(cfg.Warnings) != 0 {
		t.Errorf("price keys leaked: params %v, warnings %v", m.Params, cfg.Warnings)
	}
}

func TestBadBudgetSettings(t *testing.T) {
	const file = `
model_list:
  - model_name: m
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      output_cost_per_token: -1
litellm_settings:
  max_budget: lots
  budget_duration: 30 days
`
	_, err := Parse([]byte(file), "budget.yaml", nil)
	if err == nil {
		t.Fatal("Parse accepted bad budget settings")
	}
	for _, want := range []string{
		"budget.yaml:6: model_list[0].litellm_params.output_cost_per_token: must be a number >= 0",
		"budget.yaml:8: litellm_settings.max_budget: must be a number >= 0",
		`budget.yaml:9: litellm_settings.budget_duration: "30 days" is not a duration`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30s": 30 * time.Second, "5m": 5 * time.Minute, "1h": time.Hour, "30d": 720 * time.Hour,
		"2w": 336 * time.Hour, "1mo": 720 * time.Hour,
	} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "30", "d", "-1d", "0h", "1.5h", "1y", "99999999999999999999d"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", bad)
		}
	}
}
