package translate_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestStopReasonsREADME holds README's finish_reason list to the golden
// cases: every Bedrock stop reason it names has a case
// testdata/chat/stop_<reason>.txtar whose answer, replay and stream all end
// with the finish_reason README promises.
func TestStopReasonsREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	mapping := readmeStopReasons(t, string(readme))
	if len(mapping) < 7 {
		t.Fatalf("README's finish_reason bullet names %d stop reasons, want at least the 7 it had: %v", len(mapping), mapping)
	}
	finish := regexp.MustCompile(`"finish_reason": ?"([a-z_]+)"`)
	for reason, want := range mapping {
		t.Run(reason, func(t *testing.T) {
			c := readCase(t, "testdata/chat/stop_"+reason+".txtar")
			if !strings.Contains(c.sections["bedrock.response.json"], `"stopReason":"`+reason+`"`) ||
				!strings.Contains(c.sections["bedrock.stream"], `"stopReason":"`+reason+`"`) {
				t.Fatalf("the case's Bedrock answer and stream must both stop with %q", reason)
			}
			for _, section := range []string{"openai.response.json", "openai.replay.sse", "openai.sse"} {
				got := finish.FindAllStringSubmatch(c.sections[section], -1)
				if len(got) != 1 || got[0][1] != want {
					t.Errorf("%s: finish_reason %v, want exactly one %q as README says", section, got, want)
				}
			}
		})
	}
}

// readmeStopReasons reads the bullet "`finish_reason`: `a`, `b` -> `x`;
// `c` -> `y`." of README's Translation section.
func readmeStopReasons(t *testing.T, readme string) map[string]string {
	t.Helper()
	start := strings.Index(readme, "- `finish_reason`:")
	if start < 0 {
		t.Fatal("README has no \"- `finish_reason`:\" bullet")
	}
	bullet := readme[start+len("- `finish_reason`:"):]
	if end := strings.Index(bullet, "\n- "); end >= 0 {
		bullet = bullet[:end]
	}
	bullet = strings.TrimSuffix(strings.TrimSpace(bullet), ".")
	name := regexp.MustCompile("`([a-z_]+)`")
	mapping := map[string]string{}
	for _, group := range strings.Split(bullet, ";") {
		from, to, ok := strings.Cut(group, "->")
		names := name.FindAllStringSubmatch(from, -1)
		target := name.FindStringSubmatch(to)
		if !ok || len(names) == 0 || target == nil {
			t.Fatalf("cannot read %q in README's finish_reason bullet", group)
		}
		for _, n := range names {
			mapping[n[1]] = target[1]
		}
	}
	return mapping
}
