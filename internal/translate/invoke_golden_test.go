package translate_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/translate"
)

// A golden case under testdata/invoke is chat through InvokeModel, in the
// txtar-style format of testdata/chat. Inputs: target.json ({"model",
// "route", "defaults", "drop_params"}), openai.request.json,
// bedrock.answer.json (with bedrock.headers.json: {"input", "output"} token
// counts), bedrock.chunks (one native chunk per line). Expected outputs:
// startup.error, bedrock.body.json (and bedrock.api: invoke or
// invoke-with-response-stream) or error.json, openai.response.json,
// openai.replay.sse, openai.sse, and both streams again without
// include_usage (openai.replay.no_usage.sse, openai.no_usage.sse).
func TestGoldenInvoke(t *testing.T) {
	runGolden(t, "testdata/invoke", runInvokeCase)
}

type goldenTarget struct {
	Model      string         `json:"model"`
	Route      string         `json:"route"`
	Defaults   map[string]any `json:"defaults"`
	DropParams bool           `json:"drop_params"`
}

// targetsFor builds the case's targets, or records the startup error.
func targetsFor(t *testing.T, c *goldenCase) *translate.Targets {
	t.Helper()
	var gt goldenTarget
	if err := json.Unmarshal([]byte(c.sections["target.json"]), &gt); err != nil {
		t.Fatalf("target.json: %v", err)
	}
	targets, warning, err := translate.NewTargets(gt.Model, gt.Route, normalizeNumbers(gt.Defaults), gt.DropParams)
	if warning != "" {
		c.expect(t, "startup.warning", warning+"\n")
	}
	if err != nil {
		c.expect(t, "startup.error", err.Error()+"\n")
		return nil
	}
	return targets
}

func expectClientError(t *testing.T, c *goldenCase, err error) {
	t.Helper()
	var oe *openai.Error
	if !errors.As(err, &oe) {
		t.Fatalf("returned a non-client error: %v", err)
	}
	c.expect(t, "error.json", indentJSON(t, map[string]any{"status": oe.Status, "body": oe.Body()}))
}

func indentRaw(t *testing.T, raw []byte) string {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return out.String() + "\n"
}

func runInvokeCase(t *testing.T, c *goldenCase) {
	targets := targetsFor(t, c)
	if targets == nil {
		return
	}
	if targets.Invoke == nil {
		c.expect(t, "route", targets.Route+"\n")
		return
	}
	target := targets.Invoke
	meta := fixedMeta
	meta.Model = target.Model
	if s, ok := c.sections["openai.request.json"]; ok {
		var req openai.ChatRequest
		if err := json.Unmarshal([]byte(s), &req); err != nil {
			t.Fatalf("openai.request.json: %v", err)
		}
		call, err := translate.InvokeFromChat(&req, target)
		if err != nil {
			expectClientError(t, c, err)
			return
		}
		c.expect(t, "bedrock.body.json", indentRaw(t, call.Body))
		api := "invoke"
		if call.Stream {
			api = "invoke-with-response-stream"
		}
		if call.StreamFallback {
			api += " (stream replayed from the whole answer)"
		}
		c.expect(t, "bedrock.api", api+"\n")
		if call.Options != (bedrock.InvokeOptions{}) {
			c.expect(t, "bedrock.request.headers", fmt.Sprintf("%s: %s\n%s: %s\n", bedrock.HeaderServiceTier, call.Options.ServiceTier, bedrock.HeaderLatency, call.Options.Latency))
		}
		if len(call.Dropped) > 0 {
			c.expect(t, "dropped.json", indentJSON(t, call.Dropped))
		}
	}
	// bedrock.headers.json: what the answer's headers say, for the whole
	// answer and the stream alike.
	var headers struct {
		Input, Output int
		ServiceTier   string `json:"service_tier"`
		Latency       string `json:"latency"`
	}
	if h, ok := c.sections["bedrock.headers.json"]; ok {
		if err := json.Unmarshal([]byte(h), &headers); err != nil {
			t.Fatalf("bedrock.headers.json: %v", err)
		}
	}
	if s, ok := c.sections["bedrock.answer.json"]; ok {
		resp := &bedrock.InvokeResponse{Body: []byte(s), InputTokens: headers.Input, OutputTokens: headers.Output, ServiceTier: headers.ServiceTier, Latency: headers.Latency}
		answer, err := translate.ConverseFromInvoke(target, resp)
		if err != nil {
			t.Fatalf("ConverseFromInvoke: %v", err)
		}
		c.expect(t, "openai.response.json", indentJSON(t, translate.ChatFromConverse(answer, meta)))
		expectStreams(t, c, "openai.replay", func(usage bool) string { return replayStream(t, answer, meta, usage) })
	}
	if s, ok := c.sections["bedrock.chunks"]; ok {
		frames := encodeChunks(t, s)
		expectStreams(t, c, "openai", func(usage bool) string {
			var first string
			for _, feed := range feeds() {
				got := runInvokeStream(t, target, frames, feed.reader, meta, usage, headers.ServiceTier, headers.Latency)
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

// encodeChunks wraps each native chunk line as InvokeModelWithResponseStream
// does: a "chunk" event whose payload is {"bytes": base64}. A line
// {"exception": type, "data": payload} is an exception frame.
func encodeChunks(t *testing.T, spec string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := eventstream.NewEncoder()
	for i, line := range strings.Split(strings.TrimSpace(spec), "\n") {
		var exc struct {
			Exception string          `json:"exception"`
			Data      json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal([]byte(line), &exc); err != nil {
			t.Fatalf("bedrock.chunks line %d: %v", i+1, err)
		}
		var msg eventstream.Message
		msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
		if exc.Exception != "" {
			msg.Headers.Set(":message-type", eventstream.StringValue("exception"))
			msg.Headers.Set(":exception-type", eventstream.StringValue(exc.Exception))
			msg.Payload = exc.Data
		} else {
			msg.Headers.Set(":message-type", eventstream.StringValue("event"))
			msg.Headers.Set(":event-type", eventstream.StringValue("chunk"))
			msg.Payload, _ = json.Marshal(map[string]string{"bytes": base64.StdEncoding.EncodeToString([]byte(line))})
		}
		if err := enc.Encode(&buf, msg); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func runInvokeStream(t *testing.T, target *translate.InvokeTarget, frames []byte, reader func([]byte) io.Reader, meta translate.ResponseMeta, includeUsage bool, tier, latency string) string {
	t.Helper()
	chunks := bedrock.NewInvokeChunks(io.NopCloser(reader(frames)))
	native := target.NewStream()
	native.Served(tier, latency)
	tr := translate.NewChatStream(meta, includeUsage)
	var out strings.Builder
	emit := sseLines(&out)
	yield := func(ev *bedrock.StreamEvent) error { return tr.Event(ev, emit) }
	for {
		payload, err := chunks.Next()
		if err == io.EOF {
			if err := native.End(yield); err != nil {
				fmt.Fprintf(&out, "error: %v\n", err)
				return out.String()
			}
			out.WriteString("data: [DONE]\n")
			return out.String()
		}
		if err != nil {
			fmt.Fprintf(&out, "error: %v\n", err)
			return out.String()
		}
		if err := native.Chunk(payload, yield); err != nil {
			fmt.Fprintf(&out, "error: %v\n", err)
			return out.String()
		}
	}
}
