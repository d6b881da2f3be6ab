package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRoutingSettings(t *testing.T) {
	cfg, err := Load("testdata/routing.good.yaml", nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	r := cfg.Settings.Routing
	if r.Strategy != "usage-based-routing" {
		t.Errorf("Strategy = %q, want usage-based-routing (v2 is the same strategy)", r.Strategy)
	}
	if got := valueOf(r.NumRetries); got != 2 {
		t.Errorf("NumRetries = %v, want router_settings' 2 over litellm_settings' 5", got)
	}
	if got := valueOf(r.AllowedFails); got != 1 {
		t.Errorf("AllowedFails = %v, want 1", got)
	}
	if got := valueOf(r.CooldownTime); got != 30*time.Second {
		t.Errorf("CooldownTime = %v, want 30s", got)
	}
	if got := valueOf(r.RetryAfter); got != 250*time.Millisecond {
		t.Errorf("RetryAfter = %v, want 250ms", got)
	}
	if r.Timeout != 120*time.Second || r.StreamTimeout != 10*time.Second || r.StreamIdleTimeout != 20*time.Second {
		t.Errorf("timeouts = %v/%v/%v, want 2m0s/10s/20s", r.Timeout, r.StreamTimeout, r.StreamIdleTimeout)
	}
	wantLists := map[string][][2]any{
		"fallbacks":                {{"bedrock-claude", []string{"bedrock-llama"}}, {"*", []string{"bedrock-claude"}}},
		"context_window_fallbacks": {{"bedrock-claude", []string{"bedrock-claude-long", "bedrock-llama"}}},
		"content_policy_fallbacks": {{"bedrock-claude", []string{"bedrock-llama"}}},
	}
	gotLists := map[string][]Fallback{
		"fallbacks":                r.Fallbacks,
		"context_window_fallbacks": r.ContextWindowFallbacks,
		"content_policy_fallbacks": r.ContentPolicyFallbacks,
	}
	for key, want := range wantLists {
		var got [][2]any
		for _, fb := range gotLists[key] {
			got = append(got, [2]any{fb.Model, fb.To})
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	if !cfg.Settings.HealthCheckUpstream {
		t.Error("HealthCheckUpstream is off")
	}
	for _, w := range cfg.Warnings {
		t.Errorf("unexpected warning: %s", w)
	}
	m := cfg.Models[0].Deployment
	if m.RPM != 600 || m.Weight != 2 {
		t.Errorf("deployment 0: rpm %d weight %v", m.RPM, m.Weight)
	}
}

func TestRoutingSettingsBad(t *testing.T) {
	_, err := Load("testdata/routing.bad.yaml", nil)
	want := `testdata/routing.bad.yaml:8: litellm_settings.fallbacks: must be a list of {model_name: [fallback model_names]} mappings, e.g. [{"bedrock-claude": ["bedrock-llama"]}], got a mapping
testdata/routing.bad.yaml:9: litellm_settings.num_retries: must be a whole number >= 0, got -1
testdata/routing.bad.yaml:12: router_settings.routing_strategy: unknown strategy "round-robin"; want one of latency-based-routing, least-busy, simple-shuffle, usage-based-routing, usage-based-routing-v2
testdata/routing.bad.yaml:13: router_settings.cooldown_time: must be a number of seconds >= 0, got "soon"
testdata/routing.bad.yaml:14: router_settings.fallbacks[1]: must be a list of {model_name: [fallback model_names]} mappings, e.g. [{"bedrock-claude": ["bedrock-llama"]}], got a string`
	if err == nil {
		t.Fatalf("Load succeeded, want:\n%s", want)
	}
	if got := err.Error(); got != want {
		t.Errorf("Load errors:\n%s\nwant:\n%s", got, want)
	}
}

func TestUnimplementedStrategyWarns(t *testing.T) {
	cfg, err := Parse([]byte(`model_list:
  - model_name: m
    litellm_params: {model: bedrock/anthropic.claude-3-haiku-20240307-v1:0}
router_settings:
  routing_strategy: cost-based-routing
`), "c.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Settings.Routing.Strategy != "simple-shuffle" {
		t.Errorf("Strategy = %q, want simple-shuffle", cfg.Settings.Routing.Strategy)
	}
	want := []string{"c.yaml:5: router_settings.routing_strategy: cost-based-routing is not implemented by Strata; simple-shuffle is used"}
	if !reflect.DeepEqual(cfg.Warnings, want) {
		t.Errorf("warnings %q, want %q", cfg.Warnings, want)
	}
}

func TestModelGroupAlias(t *testing.T) {
	cfg, err := Parse([]byte(`model_list:
  - model_name: bedrock-claude
    litellm_params: {model: bedrock/anthropic.claude-3-haiku-20240307-v1:0}
router_settings:
  model_group_alias:
    claude-sonnet-4-5-20250929: bedrock-claude
    claude-haiku-4-5: {model: bedrock-claude, hidden: true}
    bedrock-claude: bedrock-claude
`), "c.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Alias{{Name: "claude-sonnet-4-5-20250929", Model: "bedrock-claude"}, {Name: "claude-haiku-4-5", Model: "bedrock-claude", Hidden: true}}
	var got []Alias
	for _, a := range cfg.Settings.Routing.Aliases {
		got = append(got, Alias{Name: a.Name, Model: a.Model, Hidden: a.Hidden})
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Aliases = %+v, want %+v", got, want)
	}
	wantWarn := []string{`c.yaml:8: router_settings.model_group_alias.bedrock-claude: "bedrock-claude" is a model_name itself; the model_list entry is used, not the alias`}
	if !reflect.DeepEqual(cfg.Warnings, wantWarn) {
		t.Errorf("warnings %q, want %q", cfg.Warnings, wantWarn)
	}

	_, err = Parse([]byte(`model_list:
  - model_name: bedrock-claude
    litellm_params: {model: bedrock/anthropic.claude-3-haiku-20240307-v1:0}
router_settings:
  model_group_alias:
    claude-sonnet-4-5: bedrock-claud
    claude-opus: [bedrock-claude]
`), "c.yaml", nil)
	wantErr := `c.yaml:6: router_settings.model_group_alias.claude-sonnet-4-5: "bedrock-claud" is not a model_name in model_list
c.yaml:7: router_settings.model_group_alias.claude-opus: must map an alias to a model_name, or to {model: model_name, hidden: true}, got a list`
	if err == nil || err.Error() != wantErr {
		t.Errorf("Parse errors:\n%v\nwant:\n%s", err, wantErr)
	}
}

// Redis settings follow LiteLLM: router_settings over the environment, a
// URL over host, port and password; a bad URL or port is refused.
func TestRedisSettings(t *testing.T) {
	env := func(vars map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	}
	const models = "model_list:\n  - model_name: m\n    litellm_params: {model: bedrock/amazon.nova-lite-v1:0, aws_region_name: us-east-1}\n"
	cases := []struct {
		name, router string
		env          map[string]string
		want         string // ClientURL; "" for no Redis
		wantErr      string
	}{
		{name: "unset", want: ""},
		{name: "environment", env: map[string]string{"REDIS_HOST": "cache", "REDIS_PORT": "6380", "REDIS_PASSWORD": "pw"}, want: "redis://:pw@cache:6380"},
		{name: "settings over environment", router: "  redis_host: r1\n  redis_port: 7000\n", env: map[string]string{"REDIS_HOST": "cache", "REDIS_PASSWORD": "pw"}, want: "redis://:pw@r1:7000"},
		{name: "default port", router: "  redis_host: r1\n", want: "redis://r1:6379"},
		{name: "url over host", router: "  redis_url: redis://u:p@r2:6390/2\n  redis_host: r1\n", want: "redis://u:p@r2:6390/2"},
		{name: "env url over settings host", router: "  redis_host: r1\n", env: map[string]string{"REDIS_URL": "rediss://r3:6379"}, want: "rediss://r3:6379"},
		{name: "bad url", router: "  redis_url: http://r1\n", wantErr: "router_settings.redis_url: must be a redis:// or rediss:// URL"},
		{name: "bad port", router: "  redis_host: r1\n  redis_port: sixty\n", wantErr: `router_settings.redis_port: must be a port number, got "sixty"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := models
			if c.router != "" {
				data += "router_settings:\n" + c.router
			}
			cfg, err := Parse([]byte(data), "c.yaml", env(c.env))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if cfg.Settings.Redis.Enabled() {
				got = cfg.Settings.Redis.ClientURL()
			}
			if got != c.want {
				t.Errorf("ClientURL = %q, want %q", got, c.want)
			}
			if strings.Contains(cfg.Settings.Redis.Address(), "pw") {
				t.Errorf("Address %q holds the password", cfg.Settings.Redis.Address())
			}
		})
	}
}
