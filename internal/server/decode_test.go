package server

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/strata-gateway/strata/internal/anthropic"
	"github.com/strata-gateway/strata/internal/openai"
)

// Bodies that encoding/json would decode by changing what the client sent,
// or refuse without saying where, are 400s naming the exact value.
func TestDecodeRefusesAndNamesTheValue(t *testing.T) {
	cases := []struct {
		name, body, param, message string
	}{
		{"invalid utf-8", "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"caf\xe9\"}]}",
			"messages[0].content", "messages[0].content is not valid UTF-8 (byte 54 of the body)"},
		{"invalid utf-8 in a part", "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"ok\"},{\"type\":\"text\",\"text\":\"\xff\"}]}]}",
			"messages[0].content[1].text", "messages[0].content[1].text is not valid UTF-8"},
		{"lone high surrogate", `{"model":"m","messages":[{"role":"user","content":"a\ud83dz"}]}`,
			"messages[0].content", "unpaired UTF-16 surrogate"},
		{"lone low surrogate", `{"model":"m","messages":[{"role":"user","content":"\ude00"}]}`,
			"messages[0].content", "unpaired UTF-16 surrogate"},
		{"type in a part", `{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":5}]}]}`,
			"messages[1].content[1].text", "messages[1].content[1].text: expected a string, got number"},
		{"type at the top", `{"model":"m","messages":[],"max_tokens":1.5}`, "max_tokens", "max_tokens: expected a number, got number 1.5"},
		{"type of a message", `{"model":"m","messages":[{"role":"user","content":"x"},{"role":7}]}`, "messages[1].role", "messages[1].role: expected a string"},
		{"content of a message", `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"user","content":5}]}`,
			"messages[1].content", "messages[1].content: expected a string, an array of content parts, or null, got number 5"},
		{"stop", `{"model":"m","messages":[],"stop":{"a":1}}`, "stop", "stop: expected a string or an array of strings, got object"},
		{"embedding input", `{"model":"m","input":["a",["b"]],"dimensions":"x"}`, "dimensions", "dimensions: expected a number, got string"},
		{"embedding input type", `{"model":"m","input":{"text":"a"}}`, "input", "input: expected a string, an array of strings, or token ids, got object"},
		{"anthropic content", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":5}]}`,
			"messages[1].content", "messages[1].content: expected a string or an array of content blocks, got number"},
		{"anthropic system", `{"model":"m","max_tokens":1,"system":{"a":1},"messages":[]}`,
			"system", "system: expected a string or an array of content blocks, got object"},
		{"anthropic tool result", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":true}]}]}`,
			"messages[0].content[0].content", "messages[0].content[0].content: expected a string or an array of content blocks, got bool"},
		{"anthropic block", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"text","text":5}]}]}`,
			"messages[0].content[0].text", "messages[0].content[0].text: expected a string, got number"},
		{"responses input", `{"model":"m","input":5}`, "input", "input: expected a string or an array of input items, got number 5"},
		{"responses content", `{"model":"m","input":[{"role":"user","content":"x"},{"type":"message","role":"user","content":{"x":1}}]}`,
			"input[1].content", "input[1].content: expected a string, an array of content parts, or null, got object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var v any
			switch tc.name {
			case "embedding input", "embedding input type":
				v = &openai.EmbeddingRequest{}
			case "responses input", "responses content":
				v = &openai.ResponsesRequest{}
			case "anthropic content", "anthropic system", "anthropic tool result", "anthropic block":
				v = &anthropic.MessagesRequest{}
			default:
				v = &openai.ChatRequest{}
			}
			err := decodeJSON([]byte(tc.body), v)
			var oe *openai.Error
			if !errors.As(err, &oe) || oe.Status != http.StatusBadRequest || oe.Param != tc.param || !strings.Contains(oe.Message, tc.message) {
				t.Fatalf("got %v (%+v), want 400 param %q with %q", err, oe, tc.param, tc.message)
			}
		})
	}
}

// Valid text, escapes and surrogate pairs included, decodes as sent.
func TestDecodeKeepsValidText(t *testing.T) {
	var req openai.ChatRequest
	body := `{"model":"m","messages":[{"role":"user","content":"caf\u00e9 \ud83d\ude00 \\u0041 é 😀"}]}`
	if err := decodeJSON([]byte(body), &req); err != nil {
		t.Fatal(err)
	}
	if got := *req.Messages[0].Content.Text; got != "café 😀 \\u0041 é 😀" {
		t.Errorf("content %q", got)
	}
}
