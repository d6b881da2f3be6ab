package config

import (
	"slices"
	"strings"
	"testing"
)

func TestTracesSettings(t *testing.T) {
	const model = "model_list:\n  - model_name: m\n    litellm_params:\n      model: bedrock/amazon.nova-lite-v1:0\n"
	cases := []struct {
		name     string
		yaml     string
		want     Traces
		warnings []string
	}{
		{name: "off by default", yaml: model},
		{name: "callbacks otel", yaml: model + "litellm_settings:\n  callbacks: [\"otel\"]\n", want: Traces{Enabled: true}},
		{name: "success_callback as a string", yaml: model + "litellm_settings:\n  success_callback: otel\n", want: Traces{Enabled: true}},
		{
			name: "other callbacks are named in one warning",
			yaml: model + "litellm_settings:\n  callbacks: [\"otel\", \"langfuse\"]\n  failure_callback: [\"datadog\"]\n",
			want: Traces{Enabled: true},
			warnings: []string{`t.yaml:6: litellm_settings: callbacks not implemented by Strata, which only sends traces over OTLP ("otel"): ` +
				`"langfuse" in callbacks (line 6), "datadog" in failure_callback (line 7)`},
		},
		{
			name: "message logging asked for",
			yaml: model + "litellm_settings:\n  callbacks: [otel]\ncallback_settings:\n  otel:\n    message_logging: true\n",
			want: Traces{Enabled: true, MessageLogging: true},
		},
		{
			name: "turn_off_message_logging wins",
			yaml: model + "litellm_settings:\n  callbacks: [otel]\n  turn_off_message_logging: true\ncallback_settings:\n  otel:\n    message_logging: true\n",
			want: Traces{Enabled: true},
		},
		{
			name:     "other callback settings are ignored with a warning",
			yaml:     model + "callback_settings:\n  otel:\n    attributes: {include_list: [a]}\n  langfuse:\n    x: 1\n",
			warnings: []string{"t.yaml:7: callback_settings: ignored, not implemented by Strata: otel.attributes (line 7), langfuse (line 8)"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse([]byte(c.yaml), "t.yaml", nil)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Settings.Traces != c.want {
				t.Errorf("traces = %+v, want %+v", cfg.Settings.Traces, c.want)
			}
			if !slices.Equal(cfg.Warnings, c.warnings) {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(cfg.Warnings, "\n"), strings.Join(c.warnings, "\n"))
			}
		})
	}
	_, err := Parse([]byte(model+"callback_settings:\n  otel:\n    message_logging: maybe\n"), "t.yaml", nil)
	if err == nil || !strings.Contains(err.Error(), "t.yaml:7: callback_settings.otel.message_logging: must be true or false") {
		t.Errorf("a bad message_logging: %v", err)
	}
}
