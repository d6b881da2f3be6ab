package translate_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/translate"
)

var update = flag.Bool("update", false, "rewrite the expected files of golden cases")

// A golden case is a txtar-style file under testdata/chat: sections named
// "-- name --". Inputs: openai.request.json, target.json (optional:
// {"model", "defaults", "drop_params"}), bedrock.response.json,
// bedrock.stream (one {"event": type, "data": payload} per line, or
// {"exception": type, "data": payload}). Expected outputs:
// bedrock.request.json or error.json, openai.response.json, and each stream
// twice: openai.sse and openai.replay.sse as a client asking for
// stream_options.include_usage gets them, openai.no_usage.sse and
// openai.replay.no_usage.sse as one that did not ask.
func TestGoldenChat(t *testing.T) {
	runGolden(t, "testdata/chat", runCase)
}

// runGolden runs every case of dir, and rewrites their expected sections
// under -update.
func runGolden(t *testing.T, dir string, run func(*testing.T, *goldenCase)) {
	files, err := filepath.Glob(dir + "/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden cases in %s: %v", dir, err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			c := readCase(t, file)
			run(t, c)
			if *update {
				c.write(t)
			}
		})
	}
}

type goldenCase struct {
	path     string
	comment  string
	names    []string
	sections map[string]string
}

func readCase(t testing.TB, path string) *goldenCase {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := &goldenCase{path: path, sections: map[string]string{}}
	cur := ""
	var buf strings.Builder
	flush := func() {
		if cur == "" {
			c.comment = buf.String()
		} else {
			c.sections[cur] = buf.String()
		}
		buf.Reset()
	}
	for _, line := range strings.SplitAfter(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "-- ") && strings.HasSuffix(trimmed, " --") && len(trimmed) > 6 {
			flush()
			cur = strings.TrimSpace(trimmed[3 : len(trimmed)-3])
			c.names = append(c.names, cur)
			continue
		}
		buf.WriteString(line)
	}
	flush()
	return c
}

func (c *goldenCase) write(t *testing.T) {
	var b strings.Builder
	b.WriteString(c.comment)
	for _, n := range c.names {
		fmt.Fprintf(&b, "-- %s --\n%s", n, c.sections[n])
	}
	if err := os.WriteFile(c.path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// expect compares got with the named section, or records it under -update.
func (c *goldenCase) expect(t *testing.T, name, got string) {
	t.Helper()
	if *update {
		if _, ok := c.sections[name]; !ok {
			c.names = append(c.names, name)
		}
		c.sections[name] = got
		return
	}
	want, ok := c.sections[name]
	if !ok {
		t.Fatalf("missing section %q; run go test -update to create it. Got:\n%s", name, got)
	}
	if strings.TrimSpace(want) != strings.TrimSpace(got) {
		t.Errorf("%s differs.\n--- want\n%s\n--- got\n%s", name, want, got)
	}
}

func indentJSON(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		t.Fatal(err)
	}
	return out.String() + "\n"
}

var fixedMeta = translate.ResponseMeta{ID: "chatcmpl-test", Created: 1700000000, Model: "anthropic.claude-3-5-sonnet-20240620-v1:0"}

func runCase(t *testing.T, c *goldenCase) {
	var target struct {
		Model      string         `json:"model"`
		Defaults   map[string]any `json:"defaults"`
		DropParams bool           `json:"drop_params"`
	}
	target.Model = "anthropic.claude-3-5-sonnet-20240620-v1:0"
	if s, ok := c.sections["target.json"]; ok {
		if err := json.Unmarshal([]byte(s), &target); err != nil {
			t.Fatalf("target.json: %v", err)
		}
	}
	meta := fixedMeta
	if s, ok := c.sections["openai.request.json"]; ok {
		ct, err := translate.NewChatTarget(target.Model, normalizeNumbers(target.Defaults), target.DropParams)
		if err != nil {
			t.Fatalf("NewChatTarget: %v", err)
		}
		var req openai.ChatRequest
		if err := json.Unmarshal([]byte(s), &req); err != nil {
			t.Fatalf("openai.request.json: %v", err)
		}
		call, err := translate.ConverseFromChat(&req, ct)
		if err != nil {
			var oe *openai.Error
			if !errors.As(err, &oe) {
				t.Fatalf("ConverseFromChat returned a non-client error: %v", err)
			}
			c.expect(t, "error.json", indentJSON(t, map[string]any{"status": oe.Status, "body": oe.Body()}))
			return
		}
		c.expect(t, "bedrock.request.json", indentJSON(t, call.Request))
		if len(call.Dropped) > 0 {
			c.expect(t, "dropped.json", indentJSON(t, call.Dropped))
		}
		if call.StreamFallback {
			c.expect(t, "stream_fallback", "true\n")
		}
		meta.Answer = call.Answer
	}
	if s, ok := c.sections["bedrock.response.json"]; ok {
		var resp bedrock.ConverseResponse
		if err := json.Unmarshal([]byte(s), &resp); err != nil {
			t.Fatalf("bedrock.response.json: %v", err)
		}
		c.expect(t, "openai.response.json", indentJSON(t, translate.ChatFromConverse(&resp, meta)))
		expectStreams(t, c, "openai.replay", func(usage bool) string { return replayStream(t, &resp, meta, usage) })
	}
	if s, ok := c.sections["bedrock.stream"]; ok {
		frames := encodeStream(t, s)
		expectStreams(t, c, "openai", func(usage bool) string {
			var first string
			for _, feed := range feeds() {
				got := runStream(t, frames, feed.reader, meta, usage)
				if first == "" {
					first = got
				} else if got != first {
					t.Errorf("fed %s, the stream translated differently:\n%s\nwhole:\n%s", feed.name, got, first)
				}
			}
			return first
		})
	}
}

// expectStreams renders a stream with and without include_usage and
// compares them with the sections <prefix>.sse and <prefix>.no_usage.sse.
// Without include_usage no chunk may carry usage or come with empty
// choices, and every other chunk must be the same as with it.
func expectStreams(t *testing.T, c *goldenCase, prefix string, render func(includeUsage bool) string) {
	t.Helper()
	with, without := render(true), render(false)
	c.expect(t, prefix+".sse", with)
	c.expect(t, prefix+".no_usage.sse", without)
	for _, line := range strings.Split(without, "\n") {
		if strings.Contains(line, `"usage"`) || strings.Contains(line, `"choices":[]`) {
			t.Errorf("%s.no_usage.sse: a client that did not ask for include_usage gets a usage chunk or one with empty choices:\n%s", prefix, line)
		}
	}
	var kept []string
	for _, line := range strings.Split(with, "\n") {
		if !strings.Contains(line, `"choices":[],"usage"`) {
			kept = append(kept, line)
		}
	}
	if want := strings.Join(kept, "\n"); without != want {
		t.Errorf("%s: without include_usage the stream must be the same but for its usage chunk.\n--- want\n%s\n--- got\n%s", prefix, want, without)
	}
}

// normalizeNumbers turns JSON's float64 integers into ints, as YAML would
// decode them from a config file.
func normalizeNumbers(m map[string]any) map[string]any {
	for k, v := range m {
		if f, ok := v.(float64); ok && f == float64(int(f)) {
			m[k] = int(f)
		}
	}
	return m
}

// encodeStream writes the case's events as real AWS eventstream frames.
func encodeStream(t *testing.T, spec string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := eventstream.NewEncoder()
	for i, line := range strings.Split(strings.TrimSpace(spec), "\n") {
		var ev struct {
			Event     string          `json:"event"`
			Exception string          `json:"exception"`
			Data      json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("bedrock.stream line %d: %v", i+1, err)
		}
		msg := eventstream.Message{Payload: ev.Data}
		msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
		if ev.Exception != "" {
			msg.Headers.Set(":message-type", eventstream.StringValue("exception"))
			msg.Headers.Set(":exception-type", eventstream.StringValue(ev.Exception))
		} else {
			msg.Headers.Set(":message-type", eventstream.StringValue("event"))
			msg.Headers.Set(":event-type", eventstream.StringValue(ev.Event))
		}
		if err := enc.Encode(&buf, msg); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

type feed struct {
	name   string
	reader func([]byte) io.Reader
}

// feeds deliver the same bytes whole, one byte at a time, and in random
// chunk sizes: frame boundaries must not matter.
func feeds() []feed {
	return []feed{
		{"whole", func(b []byte) io.Reader { return bytes.NewReader(b) }},
		{"byte by byte", func(b []byte) io.Reader { return &chunkReader{data: b, next: func() int { return 1 }} }},
		{"random chunks", func(b []byte) io.Reader {
			rng := rand.New(rand.NewPCG(1, uint64(len(b))))
			return &chunkReader{data: b, next: func() int { return 1 + rng.IntN(37) }}
		}},
	}
}

type chunkReader struct {
	data []byte
	next func() int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(r.next(), len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// sseLines renders each chunk as the data line a client would receive.
func sseLines(out *strings.Builder) func(*openai.ChatChunk) error {
	return func(c *openai.ChatChunk) error {
		raw, err := json.Marshal(c)
		fmt.Fprintf(out, "data: %s\n", raw)
		return err
	}
}

// replayStream renders the answer as the stream a model that cannot stream
// gives the client.
func replayStream(t *testing.T, resp *bedrock.ConverseResponse, meta translate.ResponseMeta, includeUsage bool) string {
	t.Helper()
	tr := translate.NewChatStream(meta, includeUsage)
	var out strings.Builder
	emit := sseLines(&out)
	err := translate.ReplayAsStream(resp, func(ev *bedrock.StreamEvent) error { return tr.Event(ev, emit) })
	if err != nil || !tr.Done() {
		t.Fatalf("replay: %v (done %v)", err, tr.Done())
	}
	return out.String()
}

// runStream decodes frames and translates them, rendering what a client
// would receive as SSE lines.
func runStream(t *testing.T, frames []byte, reader func([]byte) io.Reader, meta translate.ResponseMeta, includeUsage bool) string {
	t.Helper()
	stream := bedrock.NewStreamReader(io.NopCloser(reader(frames)))
	tr := translate.NewChatStream(meta, includeUsage)
	var out strings.Builder
	emit := sseLines(&out)
	var ev bedrock.StreamEvent
	for {
		err := stream.Next(&ev)
		if err == io.EOF {
			if tr.Done() {
				out.WriteString("data: [DONE]\n")
			} else {
				out.WriteString("error: stream ended before messageStop\n")
			}
			return out.String()
		}
		if err != nil {
			fmt.Fprintf(&out, "error: %v\n", err)
			return out.String()
		}
		if err := tr.Event(&ev, emit); err != nil {
			t.Fatal(err)
		}
	}
}
