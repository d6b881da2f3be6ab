package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/emulator"
)

// weatherTools is the seed's function-calling example, verbatim.
func weatherTools() []openai.ChatCompletionToolUnionParam {
	return []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name:        "get_current_weather",
		Description: openai.String("Get the current weather in a given location"),
		Parameters: shared.FunctionParameters{
			"type": "object",
			"properties": map[string]any{
				"location": map[string]any{"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
				"unit":     map[string]any{"type": "string", "enum": []string{"celsius", "fahrenheit"}},
			},
			"required": []string{"location"},
		},
	})}
}

func text(s string) *string { return &s }

func toolUseAnswer(blocks ...bedrock.ContentBlock) bedrock.ConverseResponse {
	return bedrock.ConverseResponse{
		Output:     bedrock.ConverseOutput{Message: &bedrock.Message{Role: "assistant", Content: blocks}},
		StopReason: "tool_use",
		Usage:      bedrock.TokenUsage{InputTokens: 20, OutputTokens: 10, TotalTokens: 30},
	}
}

func toolUse(id, name, input string) bedrock.ContentBlock {
	return bedrock.ContentBlock{ToolUse: &bedrock.ToolUseBlock{ToolUseID: id, Name: name, Input: json.RawMessage(input)}}
}

// The seed's function-calling example, then the client's usual loop: the
// answer appended as-is, a tool message, and the model's final answer.
func TestToolRoundTrip(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)
	client := g.client()

	em.Script(emulator.Script{Response: toolUseAnswer(
		bedrock.ContentBlock{Text: text("Let me look that up.")},
		toolUse("tooluse_weather1", "get_current_weather", `{"location":"Boston, MA","unit":"fahrenheit"}`),
	)})
	messages := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What's the weather like in Boston today?")}
	first, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model:      "bedrock-claude",
		Messages:   messages,
		Tools:      weatherTools(),
		ToolChoice: openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("auto")},
	})
	if err != nil {
		t.Fatal(err)
	}
	choice := first.Choices[0]
	if choice.FinishReason != "tool_calls" || len(choice.Message.ToolCalls) != 1 || choice.Message.Content != "Let me look that up." {
		t.Fatalf("finish %q, content %q, tool calls %+v", choice.FinishReason, choice.Message.Content, choice.Message.ToolCalls)
	}
	call := choice.Message.ToolCalls[0]
	if call.ID != "tooluse_weather1" || call.Function.Name != "get_current_weather" {
		t.Errorf("tool call %+v", call)
	}
	var args struct{ Location, Unit string }
	if err := json.Unmarshal([]byte(call.Function.Arguments), &args); err != nil || args.Location != "Boston, MA" {
		t.Errorf("arguments %q: %v", call.Function.Arguments, err)
	}
	sent := lastCall(t, em).Converse
	if sent.ToolConfig == nil || len(sent.ToolConfig.Tools) != 1 || sent.ToolConfig.Tools[0].ToolSpec.Name != "get_current_weather" ||
		sent.ToolConfig.ToolChoice == nil || sent.ToolConfig.ToolChoice.Auto == nil {
		t.Fatalf("toolConfig sent to Bedrock: %+v", sent.ToolConfig)
	}
	if !strings.Contains(string(sent.ToolConfig.Tools[0].ToolSpec.InputSchema.JSON), `"required":["location"]`) {
		t.Errorf("schema: %s", sent.ToolConfig.Tools[0].ToolSpec.InputSchema.JSON)
	}

	messages = append(messages, choice.Message.ToParam(), openai.ToolMessage(`{"temperature": 72, "unit": "fahrenheit"}`, call.ID))
	second, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model: "bedrock-claude", Messages: messages, Tools: weatherTools(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if second.Choices[0].FinishReason != "stop" || !strings.HasPrefix(second.Choices[0].Message.Content, "echo: ") {
		t.Errorf("final answer %+v", second.Choices[0])
	}
	sent = lastCall(t, em).Converse
	if len(sent.Messages) != 3 {
		t.Fatalf("turns sent: %d", len(sent.Messages))
	}
	assistant, user := sent.Messages[1], sent.Messages[2]
	if assistant.Role != "assistant" || len(assistant.Content) != 2 || assistant.Content[1].ToolUse == nil ||
		assistant.Content[1].ToolUse.ToolUseID != "tooluse_weather1" {
		t.Errorf("assistant turn: %+v", assistant)
	}
	if user.Role != "user" || user.Content[0].ToolResult == nil || user.Content[0].ToolResult.ToolUseID != "tooluse_weather1" ||
		string(user.Content[0].ToolResult.Content[0].JSON) != `{"temperature":72,"unit":"fahrenheit"}` {
		t.Errorf("tool result turn: %+v", user.Content[0].ToolResult)
	}
}

// Streamed tool calls: two calls, input arriving in fragments, accumulated
// by the SDK's own accumulator into complete calls.
func TestStreamedToolCalls(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)
	client := g.client()
	em.Script(emulator.Script{Response: toolUseAnswer(
		bedrock.ContentBlock{Text: text("Checking both cities.")},
		toolUse("tooluse_a", "get_current_weather", `{"location":"Boston, MA","unit":"celsius"}`),
		toolUse("tooluse_b", "get_current_weather", `{"location":"Paris, France"}`),
	)})

	stream := client.Chat.Completions.NewStreaming(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model:    "bedrock-claude",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Boston and Paris?")},
		Tools:    weatherTools(),
	})
	var acc openai.ChatCompletionAccumulator
	var finished []string
	for stream.Next() {
		acc.AddChunk(stream.Current())
		if tc, ok := acc.JustFinishedToolCall(); ok {
			finished = append(finished, tc.Name+" "+tc.Arguments)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	msg := acc.Choices[0].Message
	if acc.Choices[0].FinishReason != "tool_calls" || msg.Content != "Checking both cities." || len(msg.ToolCalls) != 2 {
		t.Fatalf("finish %q content %q calls %+v", acc.Choices[0].FinishReason, msg.Content, msg.ToolCalls)
	}
	for i, want := range []struct{ id, args string }{
		{"tooluse_a", `{"location":"Boston, MA","unit":"celsius"}`},
		{"tooluse_b", `{"location":"Paris, France"}`},
	} {
		got := msg.ToolCalls[i]
		if got.ID != want.id || got.Function.Name != "get_current_weather" || got.Function.Arguments != want.args {
			t.Errorf("tool call %d: %+v", i, got)
		}
	}
	if len(finished) != 2 {
		t.Errorf("the SDK saw %d finished tool calls: %v", len(finished), finished)
	}
}

// An agent ends its loop: it replays the tool calls and results and sends
// no tools. Bedrock gets the history as toolUse and toolResult blocks with
// the toolConfig it requires (the emulator refuses them without one, as
// Bedrock does), and a call the model makes anyway to a tool the client did
// not offer in this turn never reaches the client, whole or streamed.
func TestToolHistoryWithoutTools(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)
	client := g.client()

	em.Script(emulator.Script{Response: toolUseAnswer(toolUse("tooluse_w1", "get_current_weather", `{"location":"Boston, MA"}`))})
	messages := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What's the weather like in Boston today?")}
	first, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model: "bedrock-claude", Messages: messages, Tools: weatherTools(),
	})
	if err != nil {
		t.Fatal(err)
	}
	messages = append(messages, first.Choices[0].Message.ToParam(),
		openai.ToolMessage(`{"temperature": 72}`, first.Choices[0].Message.ToolCalls[0].ID))

	// No tools in this turn: the model answers in text.
	final, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{Model: "bedrock-claude", Messages: messages})
	if err != nil {
		t.Fatal(err)
	}
	if final.Choices[0].FinishReason != "stop" || !strings.HasPrefix(final.Choices[0].Message.Content, "echo: ") {
		t.Errorf("final answer %+v", final.Choices[0])
	}
	sent := lastCall(t, em).Converse
	if len(sent.Messages) != 3 || len(sent.Messages[1].Content) != 1 || sent.Messages[1].Content[0].ToolUse == nil ||
		sent.Messages[2].Content[0].ToolResult == nil {
		t.Fatalf("history sent to Bedrock: %+v", sent.Messages)
	}
	if tc := sent.ToolConfig; tc == nil || len(tc.Tools) != 1 || tc.Tools[0].ToolSpec.Name != "get_current_weather" ||
		!strings.Contains(tc.Tools[0].ToolSpec.Description, "do not call it") || tc.ToolChoice != nil {
		t.Fatalf("toolConfig sent to Bedrock: %+v", tc)
	}

	// The model calls the tool anyway: the client gets the text alone.
	em.Script(emulator.Script{Response: toolUseAnswer(
		bedrock.ContentBlock{Text: text("It is 72 degrees in Boston.")},
		toolUse("tooluse_w2", "get_current_weather", `{"location":"Paris"}`),
	)})
	whole, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{Model: "bedrock-claude", Messages: messages})
	if err != nil {
		t.Fatal(err)
	}
	if c := whole.Choices[0]; c.FinishReason != "stop" || len(c.Message.ToolCalls) != 0 || c.Message.Content != "It is 72 degrees in Boston." {
		t.Errorf("whole answer: finish %q content %q tool calls %+v", c.FinishReason, c.Message.Content, c.Message.ToolCalls)
	}

	em.Script(emulator.Script{Response: toolUseAnswer(
		bedrock.ContentBlock{Text: text("It is 72 degrees in Boston.")},
		toolUse("tooluse_w3", "get_current_weather", `{"location":"Paris"}`),
	)})
	stream := client.Chat.Completions.NewStreaming(ctxTimeout(t), openai.ChatCompletionNewParams{Model: "bedrock-claude", Messages: messages})
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if c := acc.Choices[0]; c.FinishReason != "stop" || len(c.Message.ToolCalls) != 0 || c.Message.Content != "It is 72 degrees in Boston." {
		t.Errorf("streamed answer: finish %q content %q tool calls %+v", c.FinishReason, c.Message.Content, c.Message.ToolCalls)
	}
	if call := lastCall(t, em); call.Operation != "ConverseStream" || call.Converse.ToolConfig == nil {
		t.Errorf("stream call %s with toolConfig %+v", call.Operation, call.Converse.ToolConfig)
	}
}

// pngBytes is a small real PNG.
func pngBytes(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The seed's vision example, image_url as a plain string, with the image
// served from 127.0.0.1 (allowed by user_url_allowed_hosts), then a data URL.
func TestVision(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	img := pngBytes(t)
	images := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(img)
	}))
	t.Cleanup(images.Close)
	g := startGateway(t, seedConfig(endpoint)+"litellm_settings:\n  user_url_allowed_hosts: [\"127.0.0.1\"]\n", seedEnv...)

	body := fmt.Sprintf(`{"model": "bedrock-claude", "max_tokens": 300, "messages": [{"role": "user", "content": [
		{"type": "text", "text": "What's in this image?"},
		{"type": "image_url", "image_url": %q}]}]}`, images.URL+"/boardwalk.png")
	status, raw, _ := g.post(t, "/chat/completions", body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, raw)
	}
	assertImageSent(t, lastCall(t, em), img)

	client := g.client()
	dataURL := "data:image/png;base64," + base64.StdEncoding.EncodeToString(img)
	_, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model: "bedrock-claude",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
			openai.TextContentPart("What's in this image?"),
			openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: dataURL, Detail: "high"}),
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	assertImageSent(t, lastCall(t, em), img)
}

func assertImageSent(t *testing.T, call emulator.Call, want []byte) {
	t.Helper()
	content := call.Converse.Messages[0].Content
	if len(content) != 2 || content[0].Text == nil || content[1].Image == nil {
		t.Fatalf("content sent: %+v", content)
	}
	if content[1].Image.Format != "png" || !bytes.Equal(content[1].Image.Source.Bytes, want) {
		t.Errorf("image sent as %q with %d bytes, want png with %d", content[1].Image.Format, len(content[1].Image.Source.Bytes), len(want))
	}
}

// Image URLs that point inside the network are refused with a clear 400 and
// never fetched, including through a redirect from an allowed host.
func TestImageURLGuard(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	img := pngBytes(t)
	var internalHits int
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		internalHits++
		w.Header().Set("Content-Type", "image/png")
		w.Write(img)
	}))
	t.Cleanup(internal.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, internal.URL+"/secret.png", http.StatusFound)
	}))
	t.Cleanup(redirector.Close)
	allowed := strings.TrimPrefix(redirector.URL, "http://")
	g := startGateway(t, seedConfig(endpoint)+fmt.Sprintf("litellm_settings:\n  user_url_allowed_hosts: [%q]\n", allowed), seedEnv...)

	for _, u := range []string{
		internal.URL + "/a.png",                         // loopback, not allowed
		"http://169.254.169.254/latest/meta-data/x.png", // instance metadata
		"http://10.0.0.7/a.png",                         // private
		"http://[::1]:9/a.png",                          // IPv6 loopback
		redirector.URL + "/hop.png",                     // allowed host redirecting to a forbidden one
	} {
		t.Run(u, func(t *testing.T) {
			body := fmt.Sprintf(`{"model":"bedrock-claude","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":%q}}]}]}`, u)
			status, raw, _ := g.post(t, "/chat/completions", body)
			if status != http.StatusBadRequest {
				t.Fatalf("status %d: %s", status, raw)
			}
			_, typ, param, code := errorBody(t, raw)
			if typ != "invalid_request_error" || param == nil || *param != "messages[0].content[0].image_url" || code == nil || !strings.HasPrefix(*code, "image_url_") {
				t.Errorf("error %s", raw)
			}
		})
	}
	if internalHits != 0 {
		t.Errorf("the internal server was fetched %d times", internalHits)
	}
	if n := len(em.Calls()); n != 0 {
		t.Errorf("refused requests reached Bedrock: %d", n)
	}
	if _, err := url.Parse(internal.URL); err != nil {
		t.Fatal(err)
	}
}

// An image URL that serves more than the image limit is the image's
// fault, not the request's: a 400 naming the part, as OpenAI clients read
// it, never a 413 ("your request is too large").
func TestImageURLTooLarge(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	img := pngBytes(t)
	images := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Content-Length", strconv.Itoa(21<<20)) // over the 20 MB limit; refused on this alone
		w.WriteHeader(http.StatusOK)
		w.Write(img)
	}))
	t.Cleanup(images.Close)
	g := startGateway(t, seedConfig(endpoint)+"litellm_settings:\n  user_url_allowed_hosts: [\"127.0.0.1\"]\n", seedEnv...)
	client := g.client()
	_, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model: "bedrock-claude",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
			openai.TextContentPart("What's in this image?"),
			openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: images.URL + "/huge.png"}),
		})},
	}, option.WithMaxRetries(0))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v, want an API error", err)
	}
	if apiErr.StatusCode != http.StatusBadRequest || apiErr.Type != "invalid_request_error" ||
		apiErr.Param != "messages[0].content[1].image_url" || apiErr.Code != "image_url_too_large" ||
		!strings.Contains(apiErr.Message, "larger than the limit of 20 MB") {
		t.Errorf("got %d %s param=%q code=%q: %s", apiErr.StatusCode, apiErr.Type, apiErr.Param, apiErr.Code, apiErr.Message)
	}
	if n := len(em.Calls()); n != 0 {
		t.Errorf("a refused request reached Bedrock: %d calls", n)
	}
}

// json_schema structured output: the client parses the content as the
// schema it asked for.
func TestStructuredOutput(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)
	client := g.client()
	em.Script(emulator.Script{Response: toolUseAnswer(toolUse("tooluse_json", "json_tool_call", `{"name":"Ann","age":31}`))})

	resp, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model:    "bedrock-claude",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Extract the person: Ann is 31.")},
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{
				Name: "person",
				Schema: map[string]any{
					"type":       "object",
					"properties": map[string]any{"name": map[string]any{"type": "string"}, "age": map[string]any{"type": "integer"}},
					"required":   []string{"name", "age"},
				},
			},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var person struct {
		Name string `json:"name"`
		Age  int    `json:"age"`
	}
	if err := json.Unmarshal([]byte(resp.Choices[0].Message.Content), &person); err != nil || person.Name != "Ann" || person.Age != 31 {
		t.Errorf("content %q: %v", resp.Choices[0].Message.Content, err)
	}
	if resp.Choices[0].FinishReason != "stop" || len(resp.Choices[0].Message.ToolCalls) != 0 {
		t.Errorf("finish %q, tool calls %v", resp.Choices[0].FinishReason, resp.Choices[0].Message.ToolCalls)
	}
	tc := lastCall(t, em).Converse.ToolConfig
	if tc == nil || tc.ToolChoice == nil || tc.ToolChoice.Tool == nil || tc.ToolChoice.Tool.Name != "json_tool_call" {
		t.Errorf("toolConfig %+v", tc)
	}
}

// Reasoning across a tool turn: the client appends the answer message as-is
// (with thinking_blocks, as LiteLLM clients do) and the signed reasoning goes
// back to Bedrock first in that turn, unmodified.
func TestReasoningWithTools(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)
	em.Script(emulator.Script{Response: toolUseAnswer(
		bedrock.ContentBlock{ReasoningContent: &bedrock.ReasoningContent{ReasoningText: &bedrock.ReasoningText{Text: "I need the weather tool.", Signature: "sig-abc123"}}},
		bedrock.ContentBlock{ReasoningContent: &bedrock.ReasoningContent{RedactedContent: []byte("opaque")}},
		toolUse("tooluse_r1", "get_current_weather", `{"location":"Boston, MA"}`),
	)})
	tools := `[{"type":"function","function":{"name":"get_current_weather","parameters":{"type":"object","properties":{"location":{"type":"string"}}}}}]`
	status, raw, _ := g.post(t, "/chat/completions", `{"model":"bedrock-claude","reasoning_effort":"low","tools":`+tools+`,"messages":[{"role":"user","content":"Weather in Boston?"}]}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, raw)
	}
	var first struct {
		Choices []struct {
			Message      json.RawMessage `json:"message"`
			FinishReason string          `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(raw, &first); err != nil {
		t.Fatal(err)
	}
	var msg struct {
		ReasoningContent string `json:"reasoning_content"`
		ThinkingBlocks   []struct {
			Type, Thinking, Signature, Data string
		} `json:"thinking_blocks"`
	}
	json.Unmarshal(first.Choices[0].Message, &msg)
	if msg.ReasoningContent != "I need the weather tool." || len(msg.ThinkingBlocks) != 2 || msg.ThinkingBlocks[0].Signature != "sig-abc123" ||
		msg.ThinkingBlocks[1].Type != "redacted_thinking" {
		t.Fatalf("reasoning in the answer: %s", first.Choices[0].Message)
	}
	thinking := lastCall(t, em).Converse.AdditionalModelRequestFields
	if !strings.Contains(string(thinking), `"thinking":{"type":"enabled","budget_tokens":1024}`) {
		t.Errorf("additionalModelRequestFields %s", thinking)
	}

	second := fmt.Sprintf(`{"model":"bedrock-claude","reasoning_effort":"low","tools":%s,"messages":[
		{"role":"user","content":"Weather in Boston?"}, %s,
		{"role":"tool","tool_call_id":"tooluse_r1","content":"72F and sunny"}]}`, tools, first.Choices[0].Message)
	status, raw, _ = g.post(t, "/chat/completions", second)
	if status != 200 {
		t.Fatalf("second turn: status %d: %s", status, raw)
	}
	turn := lastCall(t, em).Converse.Messages[1]
	if len(turn.Content) != 3 || turn.Content[0].ReasoningContent == nil || turn.Content[0].ReasoningContent.ReasoningText == nil ||
		turn.Content[0].ReasoningContent.ReasoningText.Signature != "sig-abc123" ||
		string(turn.Content[1].ReasoningContent.RedactedContent) != "opaque" || turn.Content[2].ToolUse == nil {
		t.Errorf("assistant turn replayed to Bedrock: %+v", turn.Content)
	}
}

// Cache reads and writes reach the client in streamed and plain answers alike.
func TestCacheUsage(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)
	client := g.client()
	answer := bedrock.ConverseResponse{
		Output:     bedrock.ConverseOutput{Message: &bedrock.Message{Role: "assistant", Content: []bedrock.ContentBlock{{Text: text("cached answer")}}}},
		StopReason: "end_turn",
		Usage:      bedrock.TokenUsage{InputTokens: 10, OutputTokens: 2, TotalTokens: 1012, CacheReadInputTokens: 800, CacheWriteInputTokens: 200},
	}
	params := openai.ChatCompletionNewParams{
		Model:         "bedrock-claude",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	em.Script(emulator.Script{Response: answer})
	plainParams := params
	plainParams.StreamOptions = openai.ChatCompletionStreamOptionsParam{}
	resp, err := client.Chat.Completions.New(ctxTimeout(t), plainParams)
	if err != nil {
		t.Fatal(err)
	}
	checkCacheUsage(t, "plain", resp.Usage)

	em.Script(emulator.Script{Response: answer})
	stream := client.Chat.Completions.NewStreaming(ctxTimeout(t), params)
	var usage openai.CompletionUsage
	for stream.Next() {
		if c := stream.Current(); c.Usage.TotalTokens > 0 {
			usage = c.Usage
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	checkCacheUsage(t, "streamed", usage)
}

func checkCacheUsage(t *testing.T, kind string, u openai.CompletionUsage) {
	t.Helper()
	if u.PromptTokens != 1010 || u.PromptTokensDetails.CachedTokens != 800 || u.TotalTokens != 1012 {
		t.Errorf("%s usage: prompt %d cached %d total %d", kind, u.PromptTokens, u.PromptTokensDetails.CachedTokens, u.TotalTokens)
	}
	for field, want := range map[string]string{"cache_read_input_tokens": "800", "cache_creation_input_tokens": "200"} {
		if got := u.JSON.ExtraFields[field].Raw(); got != want {
			t.Errorf("%s usage %s = %q, want %s", kind, field, got, want)
		}
	}
}

// A guardrail intervention reaches the client as content_filter.
func TestGuardrailIntervened(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)
	em.Script(emulator.Script{Response: bedrock.ConverseResponse{
		Output:     bedrock.ConverseOutput{Message: &bedrock.Message{Role: "assistant", Content: []bedrock.ContentBlock{{Text: text("Sorry, I cannot help with that.")}}}},
		StopReason: "guardrail_intervened",
	}})
	status, raw, _ := g.post(t, "/chat/completions", `{"model":"bedrock-claude","guardrailConfig":{"guardrailIdentifier":"gr-1","guardrailVersion":"1"},"messages":[{"role":"user","content":"something bad"}]}`)
	if status != 200 || !strings.Contains(string(raw), `"finish_reason":"content_filter"`) {
		t.Fatalf("status %d: %s", status, raw)
	}
	gc := lastCall(t, em).Converse.GuardrailConfig
	if gc == nil || gc.GuardrailIdentifier != "gr-1" {
		t.Errorf("guardrailConfig sent: %+v", gc)
	}
}
