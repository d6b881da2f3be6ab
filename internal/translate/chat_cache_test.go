package translate_test

import (
	"strings"
	"testing"

	"github.com/strata-gateway/strata/internal/translate"
)

// A deployment's cache_control_injection_points are checked at startup:
// the error names the key and the field.
func TestNewChatTargetRefusesBadInjectionPoints(t *testing.T) {
	for _, tc := range []struct {
		points any
		want   string
	}{
		{[]any{map[string]any{"location": "message", "role": "robot"}}, "cache_control_injection_points[0].role: must be one of"},
		{[]any{map[string]any{"location": "message"}}, "cache_control_injection_points[0]: a message injection point needs a role or an index"},
		{[]any{map[string]any{"location": "tool_config"}, map[string]any{"location": "message", "index": -1, "control": map[string]any{"type": "ephemeral", "ttl": "2h"}}}, `cache_control_injection_points[1].control.ttl: must be 5m or 1h, got "2h"`},
		{[]any{map[string]any{"location": "message", "index": 1.5}}, "cache_control_injection_points[0].index: must be a whole number"},
		{[]any{map[string]any{"location": "system_prompt"}}, "cache_control_injection_points[0].location: must be message or tool_config"},
		{"system", "cache_control_injection_points: must be a list"},
	} {
		_, _, err := translate.NewTargets("anthropic.claude-sonnet-4-5-20250929-v1:0", "", map[string]any{"cache_control_injection_points": tc.points}, false)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "litellm_params: ") {
			t.Errorf("%v: got %v, want an error with %q", tc.points, err, tc.want)
		}
	}
	if _, err := translate.NewChatTarget("anthropic.claude-sonnet-4-5-20250929-v1:0", map[string]any{"cache_control_injection_points": []any{
		map[string]any{"location": "message", "role": "system"}, map[string]any{"location": "message", "index": "-1"}, map[string]any{"location": "tool_config"},
	}}, false); err != nil {
		t.Errorf("valid points refused: %v", err)
	}
}
