package translate_test

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/strata-gateway/strata/internal/anthropic"
	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/translate"
)

// A golden case under testdata/anthropic is a Messages API request for a
// Claude deployment. Inputs: target.json ({"model"}), anthropic.request.json,
// anthropic.beta (the anthropic-beta header, optional), bedrock.chunks (one
// native stream chunk per line). Expected outputs: bedrock.body.json and
// dropped.json, or error.json; anthropic.sse (the events the client gets,
// the stream fed whole, byte by byte and in random pieces) and usage.json.
func TestGoldenAnthropicInvoke(t *testing.T) {
	runGolden(t, "testdata/anthropic", runAnthropicInvokeCase)
}

func runAnthropicInvokeCase(t *testing.T, c *goldenCase) {
	var target struct {
		Model    string         `json:"model"`
		Defaults map[string]any `json:"defaults"`
	}
	if err := json.Unmarshal([]byte(c.sections["target.json"]), &target); err != nil {
		t.Fatalf("target.json: %v", err)
	}
	if s, ok := c.sections["anthropic.request.json"]; ok {
		ct, err := translate.NewChatTarget(target.Model, normalizeNumbers(target.Defaults), false)
		if err != nil {
			t.Fatal(err)
		}
		var req anthropic.MessagesRequest
		if err := json.Unmarshal([]byte(s), &req); err != nil {
			t.Fatalf("anthropic.request.json: %v", err)
		}
		var betas []string
		if h := strings.TrimSpace(c.sections["anthropic.beta"]); h != "" {
			betas = strings.Split(h, ",")
		}
		call, err := translate.InvokeFromMessages(&req, betas, ct, fetchedOf(c))
		if err != nil {
			expectClientError(t, c, err)
			return
		}
		c.expect(t, "bedrock.body.json", indentRaw(t, call.Body))
		if len(call.Dropped) > 0 {
			c.expect(t, "dropped.json", indentJSON(t, call.Dropped))
		}
	}
	if s, ok := c.sections["bedrock.chunks"]; ok {
		frames := encodeChunks(t, s)
		var first string
		for _, feed := range feeds() {
			got := runClaudeStream(t, frames, feed.reader)
			if first == "" {
				first = got
				c.expect(t, "anthropic.sse", got)
			} else if got != first {
				t.Errorf("fed %s, the stream relayed differently:\n%s\nwhole:\n%s", feed.name, got, first)
			}
		}
	}
}

func runClaudeStream(t *testing.T, frames []byte, reader func([]byte) io.Reader) string {
	t.Helper()
	chunks := bedrock.NewInvokeChunks(io.NopCloser(reader(frames)))
	var s translate.ClaudeStream
	var out strings.Builder
	for {
		payload, err := chunks.Next()
		if err == io.EOF {
			fmt.Fprintf(&out, "done: %v\nusage: %s\n", s.Done(), mustMarshal(t, s.Usage))
			return out.String()
		}
		if err != nil {
			fmt.Fprintf(&out, "error: %v\n", err)
			return out.String()
		}
		ev, err := s.Event(payload)
		if err != nil {
			fmt.Fprintf(&out, "error: %v\n", err)
			return out.String()
		}
		fmt.Fprintf(&out, "event: %s\ndata: %s\n\n", ev.Type, ev.Data)
	}
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fetchedOf reads fetched.json: {url: source} as the server downloaded them.
func fetchedOf(c *goldenCase) map[string]*anthropic.Source {
	s, ok := c.sections["fetched.json"]
	if !ok {
		return nil
	}
	var m map[string]*anthropic.Source
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		panic(err)
	}
	return m
}

// A golden case under testdata/anthropic_converse is a Messages request for
// a model served through Converse. Inputs: target.json ({"model"}),
// anthropic.request.json, bedrock.response.json, bedrock.stream. Expected:
// bedrock.request.json, dropped.json or error.json, anthropic.response.json,
// anthropic.replay.sse and anthropic.sse.
func TestGoldenAnthropicConverse(t *testing.T) {
	runGolden(t, "testdata/anthropic_converse", runAnthropicConverseCase)
}

func runAnthropicConverseCase(t *testing.T, c *goldenCase) {
	var target struct {
		Model    string         `json:"model"`
		Defaults map[string]any `json:"defaults"`
	}
	if err := json.Unmarshal([]byte(c.sections["target.json"]), &target); err != nil {
		t.Fatalf("target.json: %v", err)
	}
	if s, ok := c.sections["anthropic.request.json"]; ok {
		ct, err := translate.NewChatTarget(target.Model, normalizeNumbers(target.Defaults), false)
		if err != nil {
			t.Fatal(err)
		}
		var req anthropic.MessagesRequest
		if err := json.Unmarshal([]byte(s), &req); err != nil {
			t.Fatalf("anthropic.request.json: %v", err)
		}
		call, err := translate.ConverseFromMessages(&req, ct)
		if err != nil {
			expectClientError(t, c, err)
			return
		}
		c.expect(t, "bedrock.request.json", indentJSON(t, call.Request))
		if len(call.Dropped) > 0 {
			c.expect(t, "dropped.json", indentJSON(t, call.Dropped))
		}
		if call.StreamFallback {
			c.expect(t, "stream_fallback", "true\n")
		}
	}
	if s, ok := c.sections["bedrock.response.json"]; ok {
		var resp bedrock.ConverseResponse
		if err := json.Unmarshal([]byte(s), &resp); err != nil {
			t.Fatalf("bedrock.response.json: %v", err)
		}
		c.expect(t, "anthropic.response.json", indentJSON(t, translate.MessageFromConverse(&resp, "msg_test", target.Model)))
		tr := translate.NewMessagesStream("msg_test", target.Model)
		var out strings.Builder
		emit := func(ev anthropic.Event) error {
			fmt.Fprintf(&out, "event: %s\ndata: %s\n\n", ev.Type, ev.Data)
			return nil
		}
		if err := translate.ReplayAsStream(&resp, func(ev *bedrock.StreamEvent) error { return tr.Event(ev, emit) }); err != nil {
			t.Fatal(err)
		}
		c.expect(t, "anthropic.replay.sse", out.String())
	}
	if s, ok := c.sections["bedrock.stream"]; ok {
		frames := encodeStream(t, s)
		var first string
		for _, feed := range feeds() {
			got := runMessagesStream(t, frames, feed.reader, target.Model)
			if first == "" {
				first = got
				c.expect(t, "anthropic.sse", got)
			} else if got != first {
				t.Errorf("fed %s, the stream translated differently:\n%s\nwhole:\n%s", feed.name, got, first)
			}
		}
	}
}

func runMessagesStream(t *testing.T, frames []byte, reader func([]byte) io.Reader, model string) string {
	t.Helper()
	stream := bedrock.NewStreamReader(io.NopCloser(reader(frames)))
	tr := translate.NewMessagesStream("msg_test", model)
	var out strings.Builder
	emit := func(ev anthropic.Event) error {
		fmt.Fprintf(&out, "event: %s\ndata: %s\n\n", ev.Type, ev.Data)
		return nil
	}
	var ev bedrock.StreamEvent
	for {
		err := stream.Next(&ev)
		if err == io.EOF {
			if err := tr.End(emit); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&out, "done: %v\n", tr.Done())
			return out.String()
		}
		if err != nil {
			fmt.Fprintf(&out, "error: %v\n", err)
			return out.String()
		}
		if err := tr.Event(&ev, emit); err != nil {
			fmt.Fprintf(&out, "error: %v\n", err)
			return out.String()
		}
	}
}
