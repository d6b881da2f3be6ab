package translate_test

import (
	"strings"
	"testing"
)

// Structured output answers the client the same whether it rode on a
// forced tool or on Converse's outputConfig: each native golden case must
// have exactly the answer, whole and streamed, of its tool-path twin.
func TestStructuredOutputSameAnswerBothWays(t *testing.T) {
	for _, pair := range [][2]string{
		{"json_schema", "json_schema_native"},
		{"stream_json_schema", "stream_json_schema_native"},
	} {
		tool := readCase(t, "testdata/chat/"+pair[0]+".txtar")
		native := readCase(t, "testdata/chat/"+pair[1]+".txtar")
		if strings.Contains(tool.sections["bedrock.request.json"], "outputConfig") || !strings.Contains(tool.sections["bedrock.request.json"], "json_tool_call") {
			t.Errorf("%s does not take the tool path", pair[0])
		}
		if !strings.Contains(native.sections["bedrock.request.json"], "outputConfig") || strings.Contains(native.sections["bedrock.request.json"], "toolConfig") {
			t.Errorf("%s does not take the native path", pair[1])
		}
		compared := 0
		for _, name := range tool.names {
			if !strings.HasPrefix(name, "openai.") || name == "openai.request.json" {
				continue
			}
			compared++
			if got, want := native.sections[name], tool.sections[name]; got != want {
				t.Errorf("%s of %s differs from %s's:\n--- tool path\n%s\n--- native\n%s", name, pair[1], pair[0], want, got)
			}
		}
		if compared == 0 {
			t.Errorf("%s: no answers to compare", pair[0])
		}
	}
}
