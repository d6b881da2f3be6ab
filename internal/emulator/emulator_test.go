package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/strata-gateway/strata/internal/bedrock"
)

// unsigned serves an emulator that skips auth, so tests can post plain JSON.
func unsigned(t *testing.T) (*Emulator, *httptest.Server) {
	t.Helper()
	return startEmulator(t, Options{SkipAuth: true})
}

func post(t *testing.T, ctx context.Context, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func converse(t *testing.T, srv *httptest.Server, body string) (int, bedrock.ConverseResponse, string) {
	t.Helper()
	resp := post(t, context.Background(), srv.URL+"/model/"+testModel+"/converse", body)
	raw, _ := io.ReadAll(resp.Body)
	var out bedrock.ConverseResponse
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("response %s: %v", raw, err)
		}
	}
	return resp.StatusCode, out, string(raw)
}

// frame is a decoded eventstream message with its payload parsed.
type frame struct {
	headers map[string]string
	payload map[string]any
}

func (f frame) kind() string {
	if t := f.headers[":event-type"]; t != "" {
		return t
	}
	return f.headers[":message-type"] + ":" + f.headers[":exception-type"] + f.headers[":error-code"]
}

// readFrames decodes a ConverseStream body frame by frame (each CRC checked) and
// returns the frames and the error that ended the stream (nil at a clean end).
func readFrames(t *testing.T, body io.Reader) ([]frame, error) {
	t.Helper()
	dec := eventstream.NewDecoder()
	var frames []frame
	for {
		msg, err := dec.Decode(body, nil)
		if errors.Is(err, io.EOF) {
			return frames, nil
		}
		if err != nil {
			return frames, err
		}
		f := frame{headers: map[string]string{}}
		for _, h := range msg.Headers {
			f.headers[h.Name] = h.Value.String()
		}
		if len(msg.Payload) > 0 {
			if err := json.Unmarshal(msg.Payload, &f.payload); err != nil {
				t.Fatalf("payload %s: %v", msg.Payload, err)
			}
		}
		frames = append(frames, f)
	}
}

func stream(t *testing.T, srv *httptest.Server, body string) ([]frame, error) {
	t.Helper()
	resp := post(t, context.Background(), srv.URL+"/model/"+testModel+"/converse-stream", body)
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.amazon.eventstream" {
		t.Errorf("content type %q", ct)
	}
	return readFrames(t, resp.Body)
}

func kinds(frames []frame) string {
	var k []string
	for _, f := range frames {
		k = append(k, f.kind())
	}
	return strings.Join(k, " ")
}

func TestEchoLimits(t *testing.T) {
	tests := []struct {
		name       string
		config     string
		text       string
		stopReason string
	}{
		{"no limits", `{}`, "echo: one two three four", bedrock.StopEndTurn},
		{"maxTokens cuts words", `{"maxTokens":3}`, "echo: one two", bedrock.StopMaxTokens},
		{"maxTokens exactly enough", `{"maxTokens":5}`, "echo: one two three four", bedrock.StopEndTurn},
		{"stop sequence", `{"stopSequences":["three","zzz"]}`, "echo: one two ", bedrock.StopSequence},
		{"earliest stop sequence wins", `{"stopSequences":["four","two"]}`, "echo: one ", bedrock.StopSequence},
		{"budget runs out before the stop sequence", `{"maxTokens":2,"stopSequences":["four"]}`, "echo: one", bedrock.StopMaxTokens},
	}
	_, srv := unsigned(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"messages":[{"role":"user","content":[{"text":"one two"},{"text":"three four"}]}],"inferenceConfig":` + tc.config + `}`
			status, out, raw := converse(t, srv, body)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, raw)
			}
			if got := *out.Output.Message.Content[0].Text; got != tc.text || out.StopReason != tc.stopReason {
				t.Errorf("got %q %s, want %q %s", got, out.StopReason, tc.text, tc.stopReason)
			}
			if want := countWords(tc.text); out.Usage.OutputTokens != want || out.Usage.TotalTokens != 4+want {
				t.Errorf("usage %+v, want output %d", out.Usage, want)
			}

			// The stream says the same thing, one word per delta.
			frames, err := stream(t, srv, body)
			if err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			for _, f := range frames {
				if f.kind() == "contentBlockDelta" {
					text.WriteString(f.payload["delta"].(map[string]any)["text"].(string))
				}
				if f.kind() == "messageStop" && f.payload["stopReason"] != tc.stopReason {
					t.Errorf("stream stopReason %v", f.payload["stopReason"])
				}
			}
			if text.String() != tc.text {
				t.Errorf("stream text %q", text.String())
			}
		})
	}
}

func TestInputTokensCountSystemAndHistory(t *testing.T) {
	_, srv := unsigned(t)
	body := `{"system":[{"text":"you are terse"}],"messages":[
		{"role":"user","content":[{"text":"first question"}]},
		{"role":"assistant","content":[{"text":"first answer here"}]},
		{"role":"user","content":[{"text":"second"}]}]}`
	_, out, raw := converse(t, srv, body)
	if out.Usage.InputTokens != 9 || *out.Output.Message.Content[0].Text != "echo: second" {
		t.Errorf("got %s", raw)
	}
}

func TestWordChunksRebuildTheText(t *testing.T) {
	for _, s := range []string{"", "a", "  lead", "trail  ", "a  b\tc\n", "echo: hello world", "  "} {
		chunks := wordChunks(s)
		if strings.Join(chunks, "") != s {
			t.Errorf("%q split into %q", s, chunks)
		}
		if countWords(s) > 0 && len(chunks) != countWords(s) {
			t.Errorf("%q: %d chunks for %d words", s, len(chunks), countWords(s))
		}
	}
}

func TestValidationErrors(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		body    string
		message string
	}{
		{"malformed JSON", "", `{"messages":[`, "Malformed input request, please reformat your input and try again."},
		{"no messages", "", `{"messages":[]}`,
			"A conversation must start with a user message. Try again with a conversation that starts with a user message."},
		{"first message from assistant", "", `{"messages":[{"role":"assistant","content":[{"text":"hi"}]}]}`,
			"A conversation must start with a user message. Try again with a conversation that starts with a user message."},
		{"roles do not alternate", "", `{"messages":[{"role":"user","content":[{"text":"a"}]},{"role":"user","content":[{"text":"b"}]}]}`,
			"A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again."},
		{"empty content", "", `{"messages":[{"role":"user","content":[]}]}`,
			"The content field in the Message object at messages.0 is empty. Add a ContentBlock object to the content field and try again."},
		{"blank text", "", `{"messages":[{"role":"user","content":[{"text":"  "}]}]}`,
			"The text field in the ContentBlock object at messages.0.content.0 is blank. Add text to the text field, and try again."},
		{"unknown role", "", `{"messages":[{"role":"system","content":[{"text":"a"}]}]}`,
			"1 validation error detected: Value 'system' at 'messages.1.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]"},
		{"maxTokens and temperature", "", `{"messages":[{"role":"user","content":[{"text":"a"}]}],"inferenceConfig":{"maxTokens":0,"temperature":1.5}}`,
			"2 validation errors detected: Value '0' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1; " +
				"Value '1.5' at 'inferenceConfig.temperature' failed to satisfy constraint: Member must have value less than or equal to 1"},
		{"tool use without toolConfig", "", `{"messages":[{"role":"user","content":[{"text":"a"}]},
			{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"f","input":{}}}]},
			{"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"text":"ok"}]}}]}]}`,
			"The toolConfig field must be defined when using toolUse and toolResult content blocks."},
		{"bad model id", "/model/bad%20model/converse", helloBody, "The provided model identifier is invalid."},
		{"cache point on a model without caching", "/model/meta.llama3-3-70b-instruct-v1:0/converse",
			`{"messages":[{"role":"user","content":[{"text":"a"},{"cachePoint":{"type":"default"}}]}]}`,
			"You invoked an unsupported model or your request did not allow prompt caching. See the documentation for more information."},
		{"cache point ttl", "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/converse",
			`{"messages":[{"role":"user","content":[{"text":"a"}]}],"system":[{"text":"s"},{"cachePoint":{"type":"default","ttl":"2h"}}]}`,
			"1 validation error detected: Value '2h' at 'cachePoint.ttl' failed to satisfy constraint: Member must satisfy enum value set: [5m, 1h]"},
		{"outputConfig on a model without structured outputs", "",
			`{"messages":[{"role":"user","content":[{"text":"a"}]}],"outputConfig":{"textFormat":{"type":"json_schema","structure":{"jsonSchema":{"schema":"{\"type\":\"object\"}"}}}}}`,
			"This model doesn't support the outputConfig.textFormat field. Remove the field and try again."},
		{"outputConfig schema not JSON", "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/converse",
			`{"messages":[{"role":"user","content":[{"text":"a"}]}],"outputConfig":{"textFormat":{"type":"json_schema","structure":{"jsonSchema":{"schema":"{type: object"}}}}}`,
			"The JSON schema in outputConfig.textFormat.structure.jsonSchema.schema is not valid JSON. Correct the schema and try again."},
		{"outputConfig type", "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/converse",
			`{"messages":[{"role":"user","content":[{"text":"a"}]}],"outputConfig":{"textFormat":{"type":"xml","structure":{"jsonSchema":{"schema":"{}"}}}}}`,
			"1 validation error detected: Value 'xml' at 'outputConfig.textFormat.type' failed to satisfy constraint: Member must satisfy enum value set: [json_schema]"},
	}
	emu, srv := unsigned(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/model/" + testModel + "/converse"
			}
			resp := post(t, context.Background(), srv.URL+path, tc.body)
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d", resp.StatusCode)
			}
			if got := resp.Header.Get("X-Amzn-ErrorType"); got != "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/" {
				t.Errorf("X-Amzn-ErrorType %q", got)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var body struct{ Message string }
			_ = json.Unmarshal(raw, &body)
			if body.Message != tc.message {
				t.Errorf("message\n got %q\nwant %q", body.Message, tc.message)
			}
		})
	}
	if n := len(emu.Calls()); n != len(tests) {
		t.Errorf("recorded %d calls, want %d", n, len(tests))
	}
}

func TestUnknownPathIs404(t *testing.T) {
	_, srv := unsigned(t)
	for _, path := range []string{"/model/m/invoke-nothing", "/foo", "/model//converse"} {
		resp := post(t, context.Background(), srv.URL+path, helloBody)
		if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("X-Amzn-ErrorType"), "UnknownOperationException:") {
			t.Errorf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
		}
	}
}

func TestToolUseScriptStreams(t *testing.T) {
	emu, srv := unsigned(t)
	input := json.RawMessage(`{"city": "Zürich", "units": "metric"}`)
	emu.Script(Script{Model: testModel, Response: bedrock.ConverseResponse{
		Output: bedrock.ConverseOutput{Message: &bedrock.Message{Content: []bedrock.ContentBlock{
			{Text: ptr("Let me check.")},
			{ToolUse: &bedrock.ToolUseBlock{ToolUseID: "tooluse_1", Name: "weather", Input: input}},
		}}},
		Usage: bedrock.TokenUsage{InputTokens: 10, OutputTokens: 5, TotalTokens: 115, CacheReadInputTokens: 100},
	}})
	frames, err := stream(t, srv, helloBody)
	if err != nil {
		t.Fatal(err)
	}

	var toolInput strings.Builder
	fragments := 0
	for i, f := range frames {
		if f.headers[":content-type"] != "application/json" || f.headers[":message-type"] != "event" {
			t.Errorf("frame %d headers %v", i, f.headers)
		}
		if p, _ := f.payload["p"].(string); p == "" || strings.Trim(p, paddingAlphabet) != "" {
			t.Errorf("frame %d padding %q", i, p)
		}
		if d, ok := f.payload["delta"].(map[string]any); ok && d["toolUse"] != nil {
			toolInput.WriteString(d["toolUse"].(map[string]any)["input"].(string))
			fragments++
		}
	}
	want := "messageStart contentBlockDelta contentBlockDelta contentBlockDelta contentBlockStop contentBlockStart " +
		strings.Repeat("contentBlockDelta ", fragments) + "contentBlockStop messageStop metadata"
	if got := kinds(frames); got != want {
		t.Errorf("events\n got %s\nwant %s", got, want)
	}
	if fragments < 2 || toolInput.String() != `{"city":"Zürich","units":"metric"}` {
		t.Errorf("tool input in %d fragments: %q", fragments, toolInput.String())
	}
	start := frames[5].payload
	if start["contentBlockIndex"] != 1.0 || start["start"].(map[string]any)["toolUse"].(map[string]any)["name"] != "weather" {
		t.Errorf("contentBlockStart = %v", start)
	}
	stop := frames[len(frames)-2].payload
	meta := frames[len(frames)-1].payload
	if stop["stopReason"] != "tool_use" {
		t.Errorf("stopReason defaulted to %v, want tool_use", stop["stopReason"])
	}
	if meta["usage"].(map[string]any)["cacheReadInputTokens"] != 100.0 || meta["metrics"].(map[string]any)["latencyMs"] == nil {
		t.Errorf("metadata = %v", meta)
	}
}

func TestReasoningScriptStreams(t *testing.T) {
	emu, srv := unsigned(t)
	emu.Script(Script{Response: bedrock.ConverseResponse{
		Output: bedrock.ConverseOutput{Message: &bedrock.Message{Content: []bedrock.ContentBlock{
			{ReasoningContent: &bedrock.ReasoningContent{ReasoningText: &bedrock.ReasoningText{Text: "think it over", Signature: "sig=="}}},
			{ReasoningContent: &bedrock.ReasoningContent{RedactedContent: []byte("secret")}},
			{Text: ptr("done")},
		}}},
	}})
	frames, err := stream(t, srv, helloBody)
	if err != nil {
		t.Fatal(err)
	}
	var deltas []string
	for _, f := range frames {
		if d, ok := f.payload["delta"].(map[string]any); ok {
			b, _ := json.Marshal(d)
			deltas = append(deltas, string(b))
		}
	}
	want := []string{
		`{"reasoningContent":{"text":"think"}}`, `{"reasoningContent":{"text":" it"}}`, `{"reasoningContent":{"text":" over"}}`,
		`{"reasoningContent":{"signature":"sig=="}}`,
		`{"reasoningContent":{"redactedContent":"c2VjcmV0"}}`,
		`{"text":"done"}`,
	}
	if strings.Join(deltas, "\n") != strings.Join(want, "\n") {
		t.Errorf("deltas\n%s\nwant\n%s", strings.Join(deltas, "\n"), strings.Join(want, "\n"))
	}
}

func TestScriptsAreFIFOAndMatchModel(t *testing.T) {
	emu, srv := unsigned(t)
	answer := func(text string) bedrock.ConverseResponse {
		return bedrock.ConverseResponse{
			Output:     bedrock.ConverseOutput{Message: &bedrock.Message{Content: []bedrock.ContentBlock{{Text: ptr(text)}}}},
			StopReason: bedrock.StopGuardrailIntervened,
		}
	}
	emu.Script(Script{Model: "other.model-v1", Response: answer("for the other model")})
	emu.Script(Script{Response: answer("first")})
	emu.Script(Script{Response: answer("second")})

	var got []string
	for range 4 {
		_, out, _ := converse(t, srv, helloBody)
		got = append(got, *out.Output.Message.Content[0].Text+"/"+out.StopReason)
	}
	want := "first/guardrail_intervened second/guardrail_intervened echo: hello/end_turn echo: hello/end_turn"
	if strings.Join(got, " ") != want {
		t.Errorf("got %v", got)
	}
	if _, ok := emu.takeScript("other.model-v1"); !ok {
		t.Error("the other model's script was used up")
	}
}

func TestStatusFaults(t *testing.T) {
	tests := []struct {
		kind   string
		status int
		name   string
	}{
		{FaultThrottling, 429, "ThrottlingException"},
		{FaultInternal, 500, "InternalServerException"},
		{FaultUnavailable, 503, "ServiceUnavailableException"},
		{FaultModelTimeout, 408, "ModelTimeoutException"},
		{FaultModelNotReady, 429, "ModelNotReadyException"},
		{FaultValidation, 400, "ValidationException"},
		{FaultAccessDenied, 403, "AccessDeniedException"},
		{FaultNotFound, 404, "ResourceNotFoundException"},
		{FaultModelError, 424, "ModelErrorException"},
	}
	emu, srv := unsigned(t)
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			emu.Fault(Fault{Kind: tc.kind})
			for _, op := range []string{"converse", "converse-stream"} {
				if op == "converse-stream" {
					emu.Fault(Fault{Kind: tc.kind})
				}
				resp := post(t, context.Background(), srv.URL+"/model/"+testModel+"/"+op, helloBody)
				if resp.StatusCode != tc.status || resp.Header.Get("X-Amzn-ErrorType") != tc.name+":http://internal.amazon.com/coral/com.amazon.bedrock/" {
					t.Errorf("%s: %d %q", op, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
				}
			}
			if status, _, _ := converse(t, srv, helloBody); status != http.StatusOK {
				t.Errorf("fault outlived its one hit: %d", status)
			}
		})
	}
}

func TestFaultTimesModelAndMessage(t *testing.T) {
	emu, srv := unsigned(t)
	emu.Fault(Fault{Model: "other.model-v1", Kind: FaultInternal})
	emu.Fault(Fault{Kind: FaultThrottling, Times: 2, Message: "slow down"})

	var statuses []int
	for range 3 {
		status, _, raw := converse(t, srv, helloBody)
		statuses = append(statuses, status)
		if status == 429 && !strings.Contains(raw, `"slow down"`) {
			t.Errorf("body %s", raw)
		}
	}
	if statuses[0] != 429 || statuses[1] != 429 || statuses[2] != 200 {
		t.Errorf("statuses %v", statuses)
	}
	calls := emu.Calls()
	if calls[0].Fault != FaultThrottling || calls[2].Fault != "" {
		t.Errorf("recorded faults %q %q", calls[0].Fault, calls[2].Fault)
	}
}

func TestStreamFaultsPassConverseBy(t *testing.T) {
	emu, srv := unsigned(t)
	emu.Fault(Fault{Kind: FaultStreamException})
	if status, _, _ := converse(t, srv, helloBody); status != http.StatusOK {
		t.Fatalf("Converse hit a stream fault: %d", status)
	}
	frames, err := stream(t, srv, helloBody)
	if err != nil || kinds(frames) != "exception:modelStreamErrorException" {
		t.Errorf("stream: %s, %v", kinds(frames), err)
	}
	if frames[0].payload["message"] == "" {
		t.Errorf("exception payload %v", frames[0].payload)
	}
}

func TestStreamErrorFrame(t *testing.T) {
	emu, srv := unsigned(t)
	emu.Fault(Fault{Kind: FaultStreamError, AfterEvents: 1, Exception: "InternalFailure", Message: "boom"})
	frames, err := stream(t, srv, helloBody)
	if err != nil || kinds(frames) != "messageStart error:InternalFailure" || frames[1].headers[":error-message"] != "boom" {
		t.Errorf("stream: %s %v, %v", kinds(frames), frames, err)
	}
}

func TestStreamBrokenMidFrame(t *testing.T) {
	emu, srv := unsigned(t)
	emu.Fault(Fault{Kind: FaultStreamBroken, AfterEvents: 2})
	frames, err := stream(t, srv, helloBody)
	if len(frames) != 2 || err == nil {
		t.Fatalf("got %d frames and err %v; want 2 frames, then a broken one", len(frames), err)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want unexpected EOF", err)
	}
}

func TestStreamStallEndsWhenClientLeaves(t *testing.T) {
	emu, srv := unsigned(t)
	emu.Fault(Fault{Kind: FaultStreamStall, AfterEvents: 1}) // no Delay: until the client leaves

	ctx, cancel := context.WithCancel(context.Background())
	resp := post(t, ctx, srv.URL+"/model/"+testModel+"/converse-stream", helloBody)
	dec := eventstream.NewDecoder()
	if msg, err := dec.Decode(resp.Body, nil); err != nil || msg.Headers.Get(":event-type").String() != "messageStart" {
		t.Fatalf("first event: %v", err)
	}
	next := make(chan error, 1)
	go func() {
		_, err := dec.Decode(resp.Body, nil)
		next <- err
	}()
	select {
	case err := <-next:
		t.Fatalf("stream went on during the stall: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	if err := <-next; err == nil {
		t.Error("read after cancel succeeded")
	}
	// srv.Close in cleanup waits for the handler, so a stall that ignored the
	// client leaving would hang the test here.
}

func TestStreamStallWithDelayResumes(t *testing.T) {
	emu, srv := unsigned(t)
	emu.Fault(Fault{Kind: FaultStreamStall, AfterEvents: 2, Delay: 30 * time.Millisecond})
	start := time.Now()
	frames, err := stream(t, srv, helloBody)
	if err != nil || len(frames) != 6 || time.Since(start) < 30*time.Millisecond {
		t.Errorf("%d frames in %v, err %v", len(frames), time.Since(start), err)
	}
}

func TestStreamStallUntilReleased(t *testing.T) {
	emu, srv := unsigned(t)
	release := make(chan struct{})
	emu.Fault(Fault{Kind: FaultStreamStall, AfterEvents: 2, Until: release})
	resp := post(t, context.Background(), srv.URL+"/model/"+testModel+"/converse-stream", helloBody)
	defer resp.Body.Close()
	dec := eventstream.NewDecoder()
	for _, want := range []string{"messageStart", "contentBlockDelta"} {
		if msg, err := dec.Decode(resp.Body, nil); err != nil || msg.Headers.Get(":event-type").String() != want {
			t.Fatalf("want %s before the stall: %v", want, err)
		}
	}
	rest := make(chan []string, 1)
	go func() {
		var kinds []string
		for {
			msg, err := dec.Decode(resp.Body, nil)
			if err != nil {
				rest <- kinds
				return
			}
			kinds = append(kinds, msg.Headers.Get(":event-type").String())
		}
	}()
	close(release)
	if got := strings.Join(<-rest, " "); got != "contentBlockDelta contentBlockStop messageStop metadata" {
		t.Errorf("after the release: %s", got)
	}
}

func TestSlowFaultHonoursTheClient(t *testing.T) {
	emu, srv := unsigned(t)
	emu.Fault(Fault{Kind: FaultSlow, Delay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/model/"+testModel+"/converse", strings.NewReader(helloBody))
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}

	emu.Fault(Fault{Kind: FaultSlow, Delay: 20 * time.Millisecond})
	start := time.Now()
	if status, _, _ := converse(t, srv, helloBody); status != http.StatusOK || time.Since(start) < 20*time.Millisecond {
		t.Errorf("status %d after %v", status, time.Since(start))
	}
}

func TestUnknownFaultKindPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	New(Options{}).Fault(Fault{Kind: "throttle"})
}

func TestControlAPI(t *testing.T) {
	_, srv := unsigned(t)
	control := func(method, path, body string) *http.Response {
		req, _ := http.NewRequest(method, srv.URL+"/_emulator/"+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if r := control("POST", "scripts", `{"model":"","response":{"output":{"message":{"role":"assistant","content":[{"text":"scripted"}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}}`); r.StatusCode != http.StatusNoContent {
		t.Fatalf("scripts: %d", r.StatusCode)
	}
	if r := control("POST", "faults", `{"kind":"throttling","delay_ms":1}`); r.StatusCode != http.StatusNoContent {
		t.Fatalf("faults: %d", r.StatusCode)
	}
	if r := control("POST", "faults", `{"kind":"nope"}`); r.StatusCode != http.StatusBadRequest {
		t.Errorf("bad fault kind: %d", r.StatusCode)
	}
	if r := control("POST", "faults", `{"kind":"throttling","delay":5}`); r.StatusCode != http.StatusBadRequest {
		t.Errorf("misspelt field: %d", r.StatusCode)
	}

	if status, _, _ := converse(t, srv, helloBody); status != http.StatusTooManyRequests {
		t.Errorf("fault: %d", status)
	}
	if _, out, _ := converse(t, srv, helloBody); *out.Output.Message.Content[0].Text != "scripted" {
		t.Errorf("script not used: %+v", out)
	}

	var calls []Call
	if err := json.NewDecoder(control("GET", "calls", "").Body).Decode(&calls); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0].Fault != FaultThrottling || calls[1].Converse == nil || calls[1].ModelID != testModel {
		t.Errorf("calls = %+v", calls)
	}

	control("POST", "reset", "")
	var after []Call
	_ = json.NewDecoder(control("GET", "calls", "").Body).Decode(&after)
	if len(after) != 0 {
		t.Errorf("calls after reset = %d", len(after))
	}
}

func TestMalformedBodyIsRecordedAsJSON(t *testing.T) {
	emu, srv := unsigned(t)
	converse(t, srv, "not json")
	c := emu.Calls()[0]
	var text string
	if err := json.Unmarshal(c.Body, &text); err != nil || text != "not json" {
		t.Errorf("body %s", c.Body)
	}
	if _, err := json.Marshal(emu.Calls()); err != nil {
		t.Error(err)
	}
}

func TestConcurrentCalls(t *testing.T) {
	emu, srv := unsigned(t)
	emu.Fault(Fault{Kind: FaultThrottling, Times: 5})
	var wg sync.WaitGroup
	statuses := make(chan int, 40)
	for i := range 40 {
		wg.Go(func() {
			op := "converse"
			if i%2 == 0 {
				op = "converse-stream"
			}
			resp, err := http.Post(srv.URL+"/model/"+testModel+"/"+op, "application/json", strings.NewReader(helloBody))
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
			_ = emu.Calls()
		})
	}
	wg.Wait()
	close(statuses)
	throttled := 0
	for s := range statuses {
		if s == http.StatusTooManyRequests {
			throttled++
		}
	}
	if throttled != 5 || len(emu.Calls()) != 40 {
		t.Errorf("throttled %d of %d calls, want 5 of 40", throttled, len(emu.Calls()))
	}
}

func TestPadding(t *testing.T) {
	if got := string(withPadding([]byte(`{}`), 0)); got != `{"p":"a"}` {
		t.Errorf("empty object: %s", got)
	}
	got := withPadding([]byte(`{"role":"assistant"}`), 1)
	var v map[string]string
	if err := json.Unmarshal(got, &v); err != nil || v["role"] != "assistant" || len(v["p"]) != 18 {
		t.Errorf("padded %s: %v", got, err)
	}
	if !bytes.Contains(withPadding([]byte(`{"a":1}`), 3), []byte(`"p":"`)) {
		t.Error("no padding")
	}
}

func ptr[T any](v T) *T { return &v }

// A request with outputConfig is answered with JSON text that fits the
// schema, its strings the echo of the user's words.
func TestStructuredOutputAnswer(t *testing.T) {
	_, srv := unsigned(t)
	schema := `{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"tags":{"type":"array","items":{"enum":["a","b"]}},"ok":{"type":"boolean"}},"required":["name"]}`
	body, _ := json.Marshal(map[string]any{
		"messages":     []any{map[string]any{"role": "user", "content": []any{map[string]any{"text": "Ann is 31"}}}},
		"outputConfig": map[string]any{"textFormat": map[string]any{"type": "json_schema", "structure": map[string]any{"jsonSchema": map[string]any{"schema": schema, "name": "person"}}}},
	})
	resp := post(t, context.Background(), srv.URL+"/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/converse", string(body))
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, raw)
	}
	var out bedrock.ConverseResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	text := *out.Output.Message.Content[0].Text
	if text != `{"age":4,"name":"echo: Ann is 31","ok":true,"tags":["a"]}` || out.StopReason != "end_turn" {
		t.Errorf("answer %s (%s)", text, out.StopReason)
	}
}
