package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/emulator"
)

// A plain Responses call: a string input and instructions, answered with
// one message; usage in the Responses shape.
func TestResponsesPlain(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)
	client := g.client()
	resp, err := client.Responses.New(ctxTimeout(t), responses.ResponseNewParams{
		Model:           "bedrock-claude",
		Input:           responses.ResponseNewParamsInputUnion{OfString: openai.String("hello there")},
		Instructions:    openai.String("You are terse."),
		MaxOutputTokens: openai.Int(200),
		Temperature:     openai.Float(0.3),
		Store:           openai.Bool(false),
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != responses.ResponseStatusCompleted || resp.OutputText() != "echo: hello there" || !strings.HasPrefix(resp.ID, "resp_") {
		t.Fatalf("status %q, text %q, id %q", resp.Status, resp.OutputText(), resp.ID)
	}
	if len(resp.Output) != 1 || resp.Output[0].Type != "message" || resp.Output[0].Role != "assistant" || !strings.HasPrefix(resp.Output[0].ID, "msg_") {
		t.Fatalf("output %s", resp.RawJSON())
	}
	if resp.Usage.InputTokens != 5 || resp.Usage.OutputTokens != 3 || resp.Usage.TotalTokens != 8 {
		t.Errorf("usage %+v", resp.Usage)
	}
	sent := lastCall(t, em).Converse
	if len(sent.System) != 1 || *sent.System[0].Text != "You are terse." || *sent.InferenceConfig.MaxTokens != 200 ||
		*sent.InferenceConfig.Temperature != 0.3 || *sent.Messages[0].Content[0].Text != "hello there" {
		t.Errorf("sent to Bedrock: %+v", sent)
	}
}

// A streamed response: every event type in the order OpenAI sends them,
// sequence numbers counting up from 0, and the final response complete.
func TestResponsesStreamEvents(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)
	em.Script(emulator.Script{Response: toolUseAnswer(
		bedrock.ContentBlock{ReasoningContent: &bedrock.ReasoningContent{ReasoningText: &bedrock.ReasoningText{Text: "Need weather.", Signature: "sig-s1"}}},
		bedrock.ContentBlock{Text: text("Checking.")},
		toolUse("tooluse_s1", "get_weather", `{"city":"Oslo"}`),
	)})
	client := g.client()
	stream := client.Responses.NewStreaming(ctxTimeout(t), responses.ResponseNewParams{
		Model:     "bedrock-claude",
		Input:     responses.ResponseNewParamsInputUnion{OfString: openai.String("Weather in Oslo?")},
		Tools:     []responses.ToolUnionParam{responses.ToolParamOfFunction("get_weather", map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}, false)},
		Reasoning: responses.ReasoningParam{Effort: responses.ReasoningEffortLow, Summary: responses.ReasoningSummaryAuto},
		Store:     openai.Bool(false),
	})
	var types, seq []string
	var final responses.Response
	var text, args, summary strings.Builder
	for stream.Next() {
		ev := stream.Current()
		if int(ev.SequenceNumber) != len(seq) {
			t.Errorf("event %d (%s) has sequence_number %d", len(seq), ev.Type, ev.SequenceNumber)
		}
		seq = append(seq, ev.Type)
		if n := len(types); n == 0 || types[n-1] != ev.Type || !strings.HasSuffix(ev.Type, ".delta") {
			types = append(types, ev.Type) // runs of deltas count once
		}
		switch ev.Type {
		case "response.output_text.delta":
			text.WriteString(ev.Delta)
		case "response.function_call_arguments.delta":
			args.WriteString(ev.Delta)
		case "response.reasoning_summary_text.delta":
			summary.WriteString(ev.Delta)
		case "response.completed":
			final = ev.AsResponseCompleted().Response
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"response.created", "response.in_progress",
		"response.output_item.added", "response.reasoning_summary_part.added", "response.reasoning_summary_text.delta",
		"response.reasoning_summary_text.done", "response.reasoning_summary_part.done", "response.output_item.done",
		"response.output_item.added", "response.content_part.added", "response.output_text.delta",
		"response.output_text.done", "response.content_part.done", "response.output_item.done",
		"response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.done", "response.output_item.done",
		"response.completed",
	}
	if !slices.Equal(types, want) {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(types, "\n"), strings.Join(want, "\n"))
	}
	if text.String() != "Checking." || args.String() != `{"city":"Oslo"}` || summary.String() != "Need weather." {
		t.Errorf("text %q, arguments %q, summary %q", text.String(), args.String(), summary.String())
	}
	if final.Status != "completed" || len(final.Output) != 3 || final.Output[2].CallID != "tooluse_s1" || final.Output[2].Name != "get_weather" ||
		final.Output[1].Content[0].Text != "Checking." || final.Usage.OutputTokens != 10 {
		t.Errorf("final response %s", final.RawJSON())
	}
	if final.Output[0].EncryptedContent != "" {
		t.Errorf("encrypted_content was not asked for, yet sent: %s", final.Output[0].RawJSON())
	}
	if op := lastCall(t, em).Operation; op != "ConverseStream" {
		t.Errorf("Bedrock was called with %s, not ConverseStream", op)
	}
}

// The function-call round trip: the model calls a tool, the client sends
// the call and its output back, and Bedrock sees toolUse and toolResult.
func TestResponsesFunctionCallRoundTrip(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)
	client := g.client()
	tools := []responses.ToolUnionParam{responses.ToolParamOfFunction("get_weather",
		map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}}, true)}
	em.Script(emulator.Script{Response: toolUseAnswer(toolUse("tooluse_w1", "get_weather", `{"city":"Lima"}`))})
	input := responses.ResponseInputParam{responses.ResponseInputItemParamOfMessage("Weather in Lima?", responses.EasyInputMessageRoleUser)}
	first, err := client.Responses.New(ctxTimeout(t), responses.ResponseNewParams{
		Model: "bedrock-claude", Input: responses.ResponseNewParamsInputUnion{OfInputItemList: input}, Tools: tools,
		Store: openai.Bool(false),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Output) != 1 || first.Output[0].Type != "function_call" {
		t.Fatalf("output %s", first.RawJSON())
	}
	fc := first.Output[0].AsFunctionCall()
	if fc.CallID != "tooluse_w1" || fc.Name != "get_weather" || fc.Arguments != `{"city":"Lima"}` || !strings.HasPrefix(fc.ID, "fc_") {
		t.Fatalf("function call %s", fc.RawJSON())
	}
	fcParam := fc.ToParam()
	input = append(input,
		responses.ResponseInputItemUnionParam{OfFunctionCall: &fcParam},
		responses.ResponseInputItemUnionParam{OfFunctionCallOutput: &responses.ResponseInputItemFunctionCallOutputParam{
			CallID: openai.String(fc.CallID), Output: responses.ResponseInputItemFunctionCallOutputOutputUnionParam{OfString: openai.String("18C, cloudy")},
		}})
	second, err := client.Responses.New(ctxTimeout(t), responses.ResponseNewParams{
		Model: "bedrock-claude", Input: responses.ResponseNewParamsInputUnion{OfInputItemList: input}, Tools: tools,
		Store: openai.Bool(false),
	})
	if err != nil {
		t.Fatal(err)
	}
	if second.OutputText() != "echo: 18C, cloudy" {
		t.Errorf("final answer %q", second.OutputText())
	}
	sent := lastCall(t, em).Converse
	if len(sent.Messages) != 3 || sent.Messages[1].Content[0].ToolUse == nil || sent.Messages[1].Content[0].ToolUse.ToolUseID != "tooluse_w1" ||
		sent.Messages[2].Content[0].ToolResult == nil || sent.Messages[2].Content[0].ToolResult.ToolUseID != "tooluse_w1" {
		t.Fatalf("turns sent: %+v", sent.Messages)
	}
	if sent.ToolConfig == nil || sent.ToolConfig.Tools[0].ToolSpec.Name != "get_weather" {
		t.Errorf("tools sent: %+v", sent.ToolConfig)
	}
}

// Structured output: text.format json_schema comes back as the JSON text.
func TestResponsesStructuredOutput(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)
	em.Script(emulator.Script{Response: toolUseAnswer(toolUse("tooluse_j", "json_tool_call", `{"name":"Ann","age":31}`))})
	client := g.client()
	resp, err := client.Responses.New(ctxTimeout(t), responses.ResponseNewParams{
		Model: "bedrock-claude",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Ann is 31.")},
		Text: responses.ResponseTextConfigParam{Format: responses.ResponseFormatTextConfigParamOfJSONSchema("person", map[string]any{
			"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}, "age": map[string]any{"type": "integer"}},
			"required": []string{"name", "age"},
		})},
		Store: openai.Bool(false),
	})
	if err != nil {
		t.Fatal(err)
	}
	var person struct {
		Name string
		Age  int
	}
	if err := json.Unmarshal([]byte(resp.OutputText()), &person); err != nil || person.Name != "Ann" || person.Age != 31 {
		t.Fatalf("output %q: %v", resp.OutputText(), err)
	}
	if resp.Text.Format.Type != "json_schema" || resp.Text.Format.Name != "person" {
		t.Errorf("text.format echoed as %+v", resp.Text.Format)
	}
	sent := lastCall(t, em).Converse
	if sent.ToolConfig == nil || sent.ToolConfig.ToolChoice == nil || sent.ToolConfig.ToolChoice.Tool == nil || sent.ToolConfig.ToolChoice.Tool.Name != "json_tool_call" {
		t.Errorf("toolConfig sent: %+v", sent.ToolConfig)
	}
}

// Stateless reasoning continuation, as Codex does it: store false and
// include reasoning.encrypted_content; the reasoning item sent back
// carries Bedrock's signature to the next call.
func TestResponsesReasoningEncrypted(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)
	client := g.client()
	em.Script(emulator.Script{Response: toolUseAnswer(
		bedrock.ContentBlock{ReasoningContent: &bedrock.ReasoningContent{ReasoningText: &bedrock.ReasoningText{Text: "Call the tool.", Signature: "sig-enc-1"}}},
		toolUse("tooluse_r1", "get_weather", `{"city":"Rome"}`),
	)})
	tools := []responses.ToolUnionParam{responses.ToolParamOfFunction("get_weather", map[string]any{"type": "object", "properties": map[string]any{}}, false)}
	params := responses.ResponseNewParams{
		Model:     "bedrock-claude",
		Tools:     tools,
		Reasoning: responses.ReasoningParam{Effort: responses.ReasoningEffortLow, Summary: responses.ReasoningSummaryAuto},
		Include:   []responses.ResponseIncludable{responses.ResponseIncludableReasoningEncryptedContent},
		Store:     openai.Bool(false),
	}
	input := responses.ResponseInputParam{responses.ResponseInputItemParamOfMessage("Weather in Rome?", responses.EasyInputMessageRoleUser)}
	params.Input = responses.ResponseNewParamsInputUnion{OfInputItemList: input}
	first, err := client.Responses.New(ctxTimeout(t), params)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Output) != 2 || first.Output[0].Type != "reasoning" {
		t.Fatalf("output %s", first.RawJSON())
	}
	rs := first.Output[0].AsReasoning()
	if rs.EncryptedContent == "" || strings.Contains(rs.EncryptedContent, "sig-enc-1") || len(rs.Summary) != 1 || rs.Summary[0].Text != "Call the tool." {
		t.Fatalf("reasoning item %s", rs.RawJSON())
	}
	rsParam, fcParam := rs.ToParam(), first.Output[1].AsFunctionCall().ToParam()
	input = append(input,
		responses.ResponseInputItemUnionParam{OfReasoning: &rsParam},
		responses.ResponseInputItemUnionParam{OfFunctionCall: &fcParam},
		responses.ResponseInputItemUnionParam{OfFunctionCallOutput: &responses.ResponseInputItemFunctionCallOutputParam{
			CallID: openai.String("tooluse_r1"), Output: responses.ResponseInputItemFunctionCallOutputOutputUnionParam{OfString: openai.String("warm")},
		}})
	params.Input = responses.ResponseNewParamsInputUnion{OfInputItemList: input}
	if _, err := client.Responses.New(ctxTimeout(t), params); err != nil {
		t.Fatal(err)
	}
	turn := lastCall(t, em).Converse.Messages[1]
	if turn.Role != "assistant" || len(turn.Content) != 2 || turn.Content[0].ReasoningContent == nil ||
		turn.Content[0].ReasoningContent.ReasoningText.Signature != "sig-enc-1" || turn.Content[0].ReasoningContent.ReasoningText.Text != "Call the tool." ||
		turn.Content[1].ToolUse == nil {
		t.Fatalf("assistant turn replayed: %+v", turn.Content)
	}
}

// A guardrail's intervention reaches the client as a refusal.
func TestResponsesRefusal(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)
	em.Script(emulator.Script{Response: bedrock.ConverseResponse{
		Output:     bedrock.ConverseOutput{Message: &bedrock.Message{Role: "assistant", Content: []bedrock.ContentBlock{{Text: text("Sorry, I cannot help with that.")}}}},
		StopReason: "guardrail_intervened",
		Usage:      bedrock.TokenUsage{InputTokens: 4, OutputTokens: 7, TotalTokens: 11},
	}})
	client := g.client()
	resp, err := client.Responses.New(ctxTimeout(t), responses.ResponseNewParams{
		Model: "bedrock-claude", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("something forbidden")},
		Store: openai.Bool(false),
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != "incomplete" || resp.IncompleteDetails.Reason != "content_filter" || len(resp.Output) != 1 {
		t.Fatalf("response %s", resp.RawJSON())
	}
	part := resp.Output[0].Content[0]
	if part.Type != "refusal" || part.Refusal != "Sorry, I cannot help with that." || resp.OutputText() != "" {
		t.Errorf("content %s", part.RawJSON())
	}
}

// Built-in tools are left out and named in a header; forcing one is a 400
// that names it; bad input names the parameter.
func TestResponsesBuiltInToolsAndErrors(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)
	status, raw, hdr := g.post(t, "/v1/responses", `{"model":"bedrock-claude","store":false,"input":"hi",
		"tools":[{"type":"web_search"},{"type":"function","name":"f","parameters":{"type":"object","properties":{}}}]}`)
	if status != http.StatusOK || hdr.Get("X-Strata-Dropped-Tools") != "web_search" {
		t.Fatalf("status %d, header %q: %s", status, hdr.Get("X-Strata-Dropped-Tools"), raw)
	}
	if tools := lastCall(t, em).Converse.ToolConfig.Tools; len(tools) != 1 || tools[0].ToolSpec.Name != "f" {
		t.Errorf("tools sent: %+v", tools)
	}
	if !strings.Contains(g.logs.String(), "web_search is a built-in OpenAI tool Bedrock cannot run") {
		t.Error("no log line names the dropped tool")
	}
	for _, c := range []struct{ body, param, contains string }{
		{`{"model":"bedrock-claude","input":"hi","tools":[{"type":"web_search"}],"tool_choice":{"type":"web_search"}}`, "tool_choice", "web_search"},
		{`{"model":"bedrock-claude","input":[{"type":"message","content":"x"}]}`, "input[0].role", "role is required"},
		{`{"model":"bedrock-claude","input":"hi","max_output_tokens":0}`, "max_output_tokens", "at least 1"},
		{`{"model":"bedrock-claude","input":"hi","temperature":5}`, "temperature", "between 0 and 2"},
	} {
		status, raw, _ := g.post(t, "/v1/responses", c.body)
		var body struct {
			Error struct {
				Message, Type string
				Param         *string
			}
		}
		json.Unmarshal(raw, &body)
		if status/100 != 4 || body.Error.Param == nil || *body.Error.Param != c.param || !strings.Contains(body.Error.Message, c.contains) {
			t.Errorf("%s: status %d: %s", c.body, status, raw)
		}
	}
}

// Bedrock throttling before the first byte is retried as for chat; a
// failure after the stream started ends it with an error event and
// response.failed carrying Bedrock's message.
func TestResponsesRetryAndStreamFailure(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)
	client := g.client()

	em.Fault(emulator.Fault{Kind: emulator.FaultThrottling, Times: 1})
	var hdr http.Header
	resp, err := client.Responses.New(ctxTimeout(t), responses.ResponseNewParams{
		Model: "bedrock-claude", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("retry me")},
		Store: openai.Bool(false),
	}, option.WithJSONSet("num_retries", 1), option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		res, err := next(r)
		if res != nil {
			hdr = res.Header
		}
		return res, err
	}))
	if err != nil {
		t.Fatal(err)
	}
	if resp.OutputText() != "echo: retry me" || hdr.Get("X-Strata-Attempted-Retries") != "1" {
		t.Errorf("text %q, retries header %q", resp.OutputText(), hdr.Get("X-Strata-Attempted-Retries"))
	}

	em.Fault(emulator.Fault{Kind: emulator.FaultStreamException, AfterEvents: 3, Exception: "throttlingException", Message: "Too many tokens mid-stream"})
	stream := client.Responses.NewStreaming(ctxTimeout(t), responses.ResponseNewParams{
		Model: "bedrock-claude", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("one two three four five six")},
		Store: openai.Bool(false),
	})
	var types []string
	var failed responses.Response
	var errEvent responses.ResponseErrorEvent
	for stream.Next() {
		ev := stream.Current()
		types = append(types, ev.Type)
		switch ev.Type {
		case "error":
			errEvent = ev.AsError()
		case "response.failed":
			failed = ev.AsResponseFailed().Response
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	n := len(types)
	if n < 4 || types[n-2] != "error" || types[n-1] != "response.failed" || !slices.Contains(types, "response.output_text.delta") {
		t.Fatalf("events %v", types)
	}
	if !strings.Contains(errEvent.Message, "Too many tokens mid-stream") || failed.Status != "failed" || !strings.Contains(failed.Error.Message, "Too many tokens mid-stream") {
		t.Errorf("error event %s, failed response %s", errEvent.RawJSON(), failed.RawJSON())
	}
}
