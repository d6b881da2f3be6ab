package translate_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/translate"
)

// Whatever a client sends, decoding and translating it ends in a request
// for Bedrock or a client error: never a panic, never another kind of error.
func FuzzConverseFromChat(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.txtar")
	for _, file := range files {
		c := readCase(f, file)
		if req, ok := c.sections["openai.request.json"]; ok {
			f.Add([]byte(req))
		}
	}
	models := []string{"anthropic.claude-3-5-sonnet-20240620-v1:0", "amazon.titan-text-express-v1", "meta.llama3-1-70b-instruct-v1:0", "amazon.nova-pro-v1:0"}
	targets := make([]*translate.ChatTarget, len(models))
	for i, m := range models {
		t, err := translate.NewChatTarget(m, map[string]any{"temperature": 0.2, "top_k": 1}, false)
		if err != nil {
			f.Fatal(err)
		}
		targets[i] = t
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req openai.ChatRequest
		if json.Unmarshal(body, &req) != nil {
			return
		}
		for _, target := range targets {
			call, err := translate.ConverseFromChat(&req, target)
			if err != nil {
				var oe *openai.Error
				if !errors.As(err, &oe) || oe.Status != 400 {
					t.Fatalf("%s: not a 400 client error: %v", target.Model, err)
				}
				continue
			}
			if _, err := json.Marshal(call.Request); err != nil {
				t.Fatalf("%s: the Converse request does not encode: %v", target.Model, err)
			}
		}
	})
}
