package translate_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/translate"
)

// A Responses golden case (testdata/responses) goes through the chat
// translation to Bedrock and back. Inputs: responses.request.json,
// history.json (optional: the items previous_response_id continues),
// target.json (optional, as for chat), bedrock.response.json,
// bedrock.stream. Expected outputs: bedrock.request.json or error.json,
// dropped.json, input.json (the input items as stored),
// responses.response.json, responses.replay.sse, responses.sse.
func TestGoldenResponses(t *testing.T) {
	runGolden(t, "testdata/responses", runResponsesCase)
}

// sequentialIDs makes ids a golden file can hold: prefix_1, prefix_2...
func sequentialIDs() func(string) string {
	n := 0
	return func(prefix string) string {
		n++
		return fmt.Sprintf("%s_%d", prefix, n)
	}
}

func runResponsesCase(t *testing.T, c *goldenCase) {
	var target struct {
		Model string `json:"model"`
	}
	target.Model = "anthropic.claude-3-7-sonnet-20250219-v1:0"
	if s, ok := c.sections["target.json"]; ok {
		if err := json.Unmarshal([]byte(s), &target); err != nil {
			t.Fatalf("target.json: %v", err)
		}
	}
	var req openai.ResponsesRequest
	if err := json.Unmarshal([]byte(c.sections["responses.request.json"]), &req); err != nil {
		t.Fatalf("responses.request.json: %v", err)
	}
	var history []openai.Item
	if s, ok := c.sections["history.json"]; ok {
		if err := json.Unmarshal([]byte(s), &history); err != nil {
			t.Fatalf("history.json: %v", err)
		}
	}
	clientError := func(err error) {
		var oe *openai.Error
		if !errors.As(err, &oe) {
			t.Fatalf("a non-client error: %v", err)
		}
		c.expect(t, "error.json", indentJSON(t, map[string]any{"status": oe.Status, "body": oe.Body()}))
	}
	call, err := translate.ChatFromResponses(&req, history, sequentialIDs())
	if err != nil {
		clientError(err)
		return
	}
	ct, err := translate.NewChatTarget(target.Model, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	conv, err := translate.ConverseFromChat(call.Chat, ct)
	if err != nil {
		clientError(call.ClientError(err))
		return
	}
	c.expect(t, "bedrock.request.json", indentJSON(t, conv.Request))
	c.expect(t, "input.json", indentJSON(t, call.Input))
	if dropped := append(call.Dropped, conv.Dropped...); len(dropped) > 0 {
		c.expect(t, "dropped.json", indentJSON(t, map[string]any{"params": dropped, "tools": call.DroppedTools}))
	}
	meta := fixedMeta
	meta.Answer = conv.Answer
	newResponse := func() (*openai.Response, translate.ResponsesAnswer) {
		a := call.Answer
		a.NewID = sequentialIDs()
		return call.NewResponse("resp_test", 1700000000, meta.Model), a
	}
	if s, ok := c.sections["bedrock.response.json"]; ok {
		var resp bedrock.ConverseResponse
		if err := json.Unmarshal([]byte(s), &resp); err != nil {
			t.Fatalf("bedrock.response.json: %v", err)
		}
		r, a := newResponse()
		translate.ResponseFromChat(translate.ChatFromConverse(&resp, meta), r, a, 1700000001)
		c.expect(t, "responses.response.json", indentJSON(t, translate.ForClient(r, a.ShowEncrypted)))

		r, a = newResponse()
		var out strings.Builder
		rs, emit := responsesSSE(t, r, a, &out)
		cs := translate.NewChatStream(meta, true)
		err := translate.ReplayAsStream(&resp, func(ev *bedrock.StreamEvent) error {
			return cs.Event(ev, func(ch *openai.ChatChunk) error { return rs.Chunk(ch, emit) })
		})
		if err != nil || !cs.Done() {
			t.Fatalf("replay: %v (done %v)", err, cs.Done())
		}
		if err := rs.Finish(1700000001, emit); err != nil {
			t.Fatal(err)
		}
		c.expect(t, "responses.replay.sse", out.String())
	}
	if s, ok := c.sections["bedrock.stream"]; ok {
		frames := encodeStream(t, s)
		var first string
		for _, feed := range feeds() {
			r, a := newResponse()
			got := runResponsesStream(t, frames, feed.reader, meta, r, a)
			if first == "" {
				first = got
				c.expect(t, "responses.sse", got)
			} else if got != first {
				t.Errorf("fed %s, the stream translated differently:\n%s\nwhole:\n%s", feed.name, got, first)
			}
		}
	}
}

// responsesSSE renders each event as the SSE lines a client receives.
func responsesSSE(t *testing.T, r *openai.Response, a translate.ResponsesAnswer, out *strings.Builder) (*translate.ResponsesStream, func(*openai.ResponseEvent) error) {
	t.Helper()
	rs := translate.NewResponsesStream(r, a)
	emit := func(ev *openai.ResponseEvent) error {
		raw, err := json.Marshal(ev)
		fmt.Fprintf(out, "event: %s\ndata: %s\n", ev.Type, raw)
		return err
	}
	if err := rs.Start(emit); err != nil {
		t.Fatal(err)
	}
	return rs, emit
}

func runResponsesStream(t *testing.T, frames []byte, reader func([]byte) io.Reader, meta translate.ResponseMeta, r *openai.Response, a translate.ResponsesAnswer) string {
	t.Helper()
	var out strings.Builder
	rs, emit := responsesSSE(t, r, a, &out)
	stream := bedrock.NewStreamReader(io.NopCloser(reader(frames)))
	cs := translate.NewChatStream(meta, true)
	var ev bedrock.StreamEvent
	for {
		err := stream.Next(&ev)
		if err == io.EOF && cs.Done() {
			err = rs.Finish(1700000001, emit)
			if err != nil {
				t.Fatal(err)
			}
			return out.String()
		}
		if err == io.EOF {
			err = bedrock.ErrStreamTruncated
		}
		if err != nil {
			if err := rs.Fail(&openai.Error{Type: openai.TypeAPI, Code: "stream_failed", Message: err.Error()}, emit); err != nil {
				t.Fatal(err)
			}
			return out.String()
		}
		if err := cs.Event(&ev, func(ch *openai.ChatChunk) error { return rs.Chunk(ch, emit) }); err != nil {
			t.Fatal(err)
		}
	}
}
