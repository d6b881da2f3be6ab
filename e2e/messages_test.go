package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/emulator"
)

// messagesConfig serves Claude 3.5 Sonnet (older than what Claude Code
// expects), Claude Sonnet 4.5 and a Llama model, with the Anthropic model
// names Claude Code sends mapped to them.
func messagesConfig(endpoint string) string {
	return fmt.Sprintf(`model_list:
  - model_name: bedrock-claude
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20241022-v2:0
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
      aws_bedrock_runtime_endpoint: %[1]s
  - model_name: bedrock-sonnet-4-5
    litellm_params:
      model: bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
      aws_bedrock_runtime_endpoint: %[1]s
  - model_name: bedrock-llama
    litellm_params:
      model: bedrock/meta.llama3-1-70b-instruct-v1:0
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
      aws_bedrock_runtime_endpoint: %[1]s
router_settings:
  model_group_alias:
    claude-sonnet-4-5-20250929: bedrock-sonnet-4-5
    claude-3-5-haiku-20241022: bedrock-claude
`, endpoint)
}

func (g *gateway) anthropicClient(opts ...aoption.RequestOption) anthropic.Client {
	base := []aoption.RequestOption{aoption.WithBaseURL(g.URL), aoption.WithAPIKey("anything"), aoption.WithMaxRetries(0)}
	return anthropic.NewClient(append(base, opts...)...)
}

// invokeBody is the body that reached Bedrock's InvokeModel.
func invokeBody(t *testing.T, call emulator.Call) map[string]any {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(call.Body, &body); err != nil {
		t.Fatalf("body that reached Bedrock: %v: %s", err, call.Body)
	}
	return body
}

// A Claude-Code-shaped request through the official Anthropic SDK: system
// blocks with cache_control, tools, metadata, betas, and the features of a
// newer model than the deployment's; the body reaches InvokeModel as the
// client wrote it, less what the model cannot take.
func TestMessagesCreate(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, messagesConfig(endpoint), seedEnv...)
	client := g.anthropicClient(aoption.WithHeader("anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27"))

	tools := make([]anthropic.ToolUnionParam, 0, 20)
	for i := range 20 {
		tools = append(tools, anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{
			Name: fmt.Sprintf("tool_%d", i), Description: anthropic.String("a tool"),
			InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"path": map[string]any{"type": "string"}}},
		}})
	}
	msg, err := client.Messages.New(ctxTimeout(t), anthropic.MessageNewParams{
		Model:     "claude-3-5-haiku-20241022",
		MaxTokens: 16000, // the SDK insists on a stream above about 21,000
		System: []anthropic.TextBlockParam{
			{Text: "You are Claude Code.", CacheControl: anthropic.NewCacheControlEphemeralParam()},
			{Text: "Be brief."},
		},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("what llm are you"))},
		Tools:    tools,
		Metadata: anthropic.MetadataParam{UserID: anthropic.String("user_1")},
	}, aoption.WithJSONSet("context_management", map[string]any{"edits": []any{map[string]any{"type": "clear_thinking_20251015"}}}),
		aoption.WithJSONSet("output_config", map[string]any{"effort": "high"}))
	if err != nil {
		t.Fatalf("Messages.New: %v", err)
	}
	if len(msg.Content) != 1 || msg.Content[0].Text != "echo: what llm are you" || msg.Role != "assistant" ||
		msg.StopReason != anthropic.StopReasonEndTurn || !strings.HasPrefix(msg.ID, "msg_") {
		t.Errorf("message: %s", msg.RawJSON())
	}
	if msg.Usage.InputTokens == 0 || msg.Usage.OutputTokens != 5 {
		t.Errorf("usage: %s", msg.Usage.RawJSON())
	}

	call := lastCall(t, em)
	if call.Operation != "InvokeModel" || call.ModelID != "anthropic.claude-3-5-sonnet-20241022-v2:0" || call.Status != http.StatusOK {
		t.Fatalf("emulator got %s %q, answered %d %s", call.Operation, call.ModelID, call.Status, call.Error)
	}
	body := invokeBody(t, call)
	if body["anthropic_version"] != "bedrock-2023-05-31" || body["model"] != nil || body["max_tokens"] != 8192.0 {
		t.Errorf("version %v, model %v, max_tokens %v", body["anthropic_version"], body["model"], body["max_tokens"])
	}
	system, _ := json.Marshal(body["system"])
	if string(system) != `[{"cache_control":{"type":"ephemeral"},"text":"You are Claude Code.","type":"text"},{"text":"Be brief.","type":"text"}]` {
		t.Errorf("system: %s", system)
	}
	if n := len(body["tools"].([]any)); n != 20 {
		t.Errorf("%d tools reached Bedrock", n)
	}
	if body["metadata"] == nil || body["output_config"] != nil || body["context_management"] != nil {
		t.Errorf("metadata %v, output_config %v, context_management %v", body["metadata"], body["output_config"], body["context_management"])
	}
	if betas := fmt.Sprint(body["anthropic_beta"]); betas != "<nil>" {
		t.Errorf("anthropic_beta %s reached a model without those features", betas)
	}
	for _, want := range []string{`"param":"output_config.effort"`, `"param":"context_management"`, `"param":"max_tokens"`, `"param":"anthropic-beta claude-code-20250219"`} {
		if !strings.Contains(g.logs.String(), want) {
			t.Errorf("no log line with %s", want)
		}
	}
}

// Streams through the SDK's accumulator: thinking with its signature, text
// and a tool call in input_json_delta pieces; the thinking block then goes
// back to Bedrock signed as it came.
func TestMessagesStream(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, messagesConfig(endpoint), seedEnv...)
	client := g.anthropicClient()
	thinking, text := "The user wants the weather.", "Let me check."
	em.Script(emulator.Script{Response: bedrock.ConverseResponse{
		Output: bedrock.ConverseOutput{Message: &bedrock.Message{Role: "assistant", Content: []bedrock.ContentBlock{
			{ReasoningContent: &bedrock.ReasoningContent{ReasoningText: &bedrock.ReasoningText{Text: thinking, Signature: "c2lnbmF0dXJl"}}},
			{Text: &text},
			{ToolUse: &bedrock.ToolUseBlock{ToolUseID: "toolu_01", Name: "weather", Input: json.RawMessage(`{"city":"Paris","unit":"celsius"}`)}},
		}}},
		StopReason: bedrock.StopToolUse,
		Usage:      bedrock.TokenUsage{InputTokens: 40, OutputTokens: 30, CacheReadInputTokens: 100},
	}})
	params := anthropic.MessageNewParams{
		Model:     "claude-sonnet-4-5-20250929",
		MaxTokens: 4096,
		Thinking:  anthropic.ThinkingConfigParamOfEnabled(2048),
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("weather in Paris?"))},
		Tools: []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{Name: "weather",
			InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}}}}},
	}
	stream := client.Messages.NewStreaming(ctxTimeout(t), params)
	var msg anthropic.Message
	var kinds []string
	for stream.Next() {
		ev := stream.Current()
		kinds = append(kinds, ev.Type)
		if ev.Type == "content_block_delta" {
			kinds = append(kinds, ev.Delta.Type)
		}
		if err := msg.Accumulate(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	for _, want := range []string{"message_start", "thinking_delta", "signature_delta", "text_delta", "input_json_delta", "message_delta", "message_stop"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("no %s event in %v", want, kinds)
		}
	}
	if len(msg.Content) != 3 || msg.Content[0].Thinking != thinking || msg.Content[0].Signature != "c2lnbmF0dXJl" ||
		msg.Content[1].Text != text || msg.Content[2].Name != "weather" || string(msg.Content[2].Input) != `{"city":"Paris","unit":"celsius"}` {
		t.Fatalf("accumulated message: %s", msg.RawJSON())
	}
	if msg.StopReason != anthropic.StopReasonToolUse || msg.Usage.OutputTokens != 30 || msg.Usage.CacheReadInputTokens != 100 {
		t.Errorf("stop %s, usage %s", msg.StopReason, msg.Usage.RawJSON())
	}
	call := lastCall(t, em)
	if call.Operation != "InvokeModelWithResponseStream" || call.ModelID != "us.anthropic.claude-sonnet-4-5-20250929-v1:0" {
		t.Fatalf("emulator got %s %q", call.Operation, call.ModelID)
	}
	// The access log line, written once the stream ended, carries its usage
	// (cache reads counted as input).
	waitForLog(t, g, `"prompt_tokens":140,"completion_tokens":30`)

	params.Messages = append(params.Messages, msg.ToParam(),
		anthropic.NewUserMessage(anthropic.NewToolResultBlock("toolu_01", "18 degrees", false)))
	if _, err := client.Messages.New(ctxTimeout(t), params); err != nil {
		t.Fatalf("second turn: %v", err)
	}
	sent, _ := json.Marshal(invokeBody(t, lastCall(t, em))["messages"])
	if !strings.Contains(string(sent), `"signature":"c2lnbmF0dXJl"`) || !strings.Contains(string(sent), `"thinking":"The user wants the weather."`) ||
		!strings.Contains(string(sent), `"tool_use_id":"toolu_01"`) {
		t.Errorf("the second turn reached Bedrock as %s", sent)
	}
}

// Errors come in Anthropic's shape and statuses, which its SDK reads.
func TestMessagesErrors(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, messagesConfig(endpoint), seedEnv...)
	client := g.anthropicClient()
	params := anthropic.MessageNewParams{Model: "bedrock-claude", MaxTokens: 100,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}

	cases := []struct {
		name   string
		fault  string
		model  string
		status int
		typ    string
	}{
		{"unknown model", "", "claude-opus-9", 404, "not_found_error"},
		{"throttled", emulator.FaultThrottling, "", 429, "rate_limit_error"},
		{"overloaded", emulator.FaultUnavailable, "", 529, "overloaded_error"},
		{"access denied", emulator.FaultAccessDenied, "", 403, "permission_error"},
		{"bedrock refuses", emulator.FaultValidation, "", 400, "invalid_request_error"},
		{"internal", emulator.FaultInternal, "", 500, "api_error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := params
			if c.model != "" {
				p.Model = anthropic.Model(c.model)
			}
			if c.fault != "" {
				em.Fault(emulator.Fault{Kind: c.fault})
			}
			_, err := client.Messages.New(ctxTimeout(t), p)
			var apiErr *anthropic.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("error %v is not an API error", err)
			}
			var body struct {
				Type  string `json:"type"`
				Error struct {
					Type    string `json:"type"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(apiErr.RawJSON()), &body); err != nil {
				t.Fatal(err)
			}
			if apiErr.StatusCode != c.status || body.Type != "error" || body.Error.Type != c.typ || body.Error.Message == "" {
				t.Errorf("got %d %s", apiErr.StatusCode, apiErr.RawJSON())
			}
		})
	}

	t.Run("bad body", func(t *testing.T) {
		status, raw, _ := g.post(t, "/v1/messages", `{"model": "bedrock-claude", "max_tokens": "many", "messages": []}`)
		if status != 400 || !strings.Contains(string(raw), `"type":"invalid_request_error"`) || !strings.Contains(string(raw), "max_tokens") {
			t.Errorf("got %d %s", status, raw)
		}
	})
	t.Run("stream cut after it started", func(t *testing.T) {
		em.Fault(emulator.Fault{Kind: emulator.FaultStreamException, AfterEvents: 3, Exception: "throttlingException"})
		stream := client.Messages.NewStreaming(ctxTimeout(t), params)
		for stream.Next() {
		}
		var apiErr *anthropic.Error
		if err := stream.Err(); err == nil || !strings.Contains(err.Error(), "rate_limit_error") && !errors.As(err, &apiErr) {
			t.Errorf("stream error: %v", err)
		}
	})
}

// Claude Code's first calls: HEAD / to check the base URL, then
// /v1/messages?beta=true.
func TestMessagesClaudeCodeProbes(t *testing.T) {
	_, endpoint := bedrockEmulator(t)
	g := startGateway(t, messagesConfig(endpoint), seedEnv...)
	resp, err := http.Head(g.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD / answered %d", resp.StatusCode)
	}
	// In Bedrock mode it asks the control plane for inference profiles,
	// which the pass-through does not serve: a Bedrock-shaped 404 it reads.
	resp, err = http.Get(g.URL + "/bedrock/inference-profiles?maxResults=1000")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("X-Amzn-ErrorType") != "UnknownOperationException" {
		t.Errorf("GET /bedrock/inference-profiles: %d %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	status, raw, _ := g.post(t, "/v1/messages?beta=true", `{"model": "claude-3-5-haiku-20241022", "max_tokens": 20,
		"messages": [{"role": "user", "content": "hi"}]}`)
	if status != http.StatusOK || !strings.Contains(string(raw), `"text":"echo: hi"`) {
		t.Errorf("got %d %s", status, raw)
	}
}

// count_tokens asks Bedrock's CountTokens: with the InvokeModel body for
// Claude, with the Converse translation for other models.
func TestMessagesCountTokens(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, messagesConfig(endpoint), seedEnv...)
	client := g.anthropicClient()
	for _, model := range []string{"claude-sonnet-4-5-20250929", "bedrock-llama"} {
		n, err := client.Messages.CountTokens(ctxTimeout(t), anthropic.MessageCountTokensParams{
			Model:    anthropic.Model(model),
			System:   anthropic.MessageCountTokensParamsSystemUnion{OfString: anthropic.String("be brief")},
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("count these four words"))},
		})
		if err != nil {
			t.Fatalf("%s: CountTokens: %v", model, err)
		}
		if n.InputTokens != 6 {
			t.Errorf("%s: input_tokens %d, want 6", model, n.InputTokens)
		}
		call := lastCall(t, em)
		var body struct {
			Input struct {
				InvokeModel *struct{ Body []byte } `json:"invokeModel"`
				Converse    json.RawMessage        `json:"converse"`
			} `json:"input"`
		}
		if err := json.Unmarshal(call.Body, &body); err != nil {
			t.Fatal(err)
		}
		if call.Operation != "CountTokens" || (model == "bedrock-llama") != (body.Input.Converse != nil) {
			t.Errorf("%s: emulator got %s %s", model, call.Operation, call.Body)
		}
	}
}

// A model that is not Claude answers the Messages API through Converse.
func TestMessagesConverse(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, messagesConfig(endpoint), seedEnv...)
	client := g.anthropicClient()
	params := anthropic.MessageNewParams{Model: "bedrock-llama", MaxTokens: 200,
		System:   []anthropic.TextBlockParam{{Text: "be brief"}},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("what llm are you"))}}
	msg, err := client.Messages.New(ctxTimeout(t), params)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 1 || msg.Content[0].Text != "echo: what llm are you" || msg.StopReason != "end_turn" || msg.Usage.OutputTokens != 5 {
		t.Errorf("message: %s", msg.RawJSON())
	}
	if call := lastCall(t, em); call.Operation != "Converse" || call.Converse == nil || len(call.Converse.System) != 1 {
		t.Errorf("emulator got %s %s", call.Operation, call.Body)
	}
	stream := client.Messages.NewStreaming(ctxTimeout(t), params)
	var acc anthropic.Message
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(acc.Content) != 1 || acc.Content[0].Text != "echo: what llm are you" || acc.StopReason != "end_turn" {
		t.Errorf("streamed message: %s", acc.RawJSON())
	}
	if call := lastCall(t, em); call.Operation != "ConverseStream" {
		t.Errorf("emulator got %s", call.Operation)
	}
}

// With a master key set, /v1/messages takes the gateway key as x-api-key
// or Authorization: Bearer, refuses in Anthropic's shape (401, 403), and
// the pass-through takes it as x-litellm-api-key or x-api-key, refusing as
// Bedrock would; both calls reach the key's spend.
func TestMessagesAndPassthroughKeys(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	cfg := messagesConfig(endpoint) + fmt.Sprintf("general_settings:\n  master_key: os.environ/STRATA_MASTER_KEY\n  database_url: sqlite://%s/strata.db\n", t.TempDir())
	g := &keyGateway{gateway: startGateway(t, cfg, keysEnv...), t: t, em: em}
	var k struct {
		Key string `json:"key"`
	}
	g.admin("POST", "/key/generate", `{"models":["claude-3-5-haiku-20241022","bedrock-claude"],"key_alias":"claude-code"}`, &k)

	params := anthropic.MessageNewParams{Model: "claude-3-5-haiku-20241022", MaxTokens: 50,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}
	anthropicStatus := func(err error) (int, string) {
		var apiErr *anthropic.Error
		if !errors.As(err, &apiErr) {
			t.Fatalf("not an API error: %v", err)
		}
		var body struct {
			Type  string                `json:"type"`
			Error struct{ Type string } `json:"error"`
		}
		_ = json.Unmarshal([]byte(apiErr.RawJSON()), &body)
		if body.Type != "error" {
			t.Errorf("not Anthropic's error shape: %s", apiErr.RawJSON())
		}
		return apiErr.StatusCode, body.Error.Type
	}
	wrongKey := g.anthropicClient(aoption.WithAPIKey("sk-not-a-key-of-this-gateway"))
	if _, err := wrongKey.Messages.New(ctxTimeout(t), params); err == nil {
		t.Error("a wrong key was served")
	} else if status, typ := anthropicStatus(err); status != 401 || typ != "authentication_error" {
		t.Errorf("wrong key: %d %s", status, typ)
	}
	if status, raw, _ := g.post(t, "/v1/messages", `{"model":"bedrock-claude","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`); status != 401 ||
		!strings.Contains(string(raw), `"type":"authentication_error"`) {
		t.Errorf("no key: %d %s", status, raw)
	}
	withKey := g.anthropicClient(aoption.WithAPIKey(k.Key))
	if _, err := withKey.Messages.New(ctxTimeout(t), params); err != nil {
		t.Errorf("x-api-key: %v", err)
	}
	bearer := anthropic.NewClient(aoption.WithBaseURL(g.URL), aoption.WithMaxRetries(0), aoption.WithAuthToken(k.Key))
	if _, err := bearer.Messages.New(ctxTimeout(t), params); err != nil {
		t.Errorf("Authorization: Bearer: %v", err)
	}
	params.Model = "bedrock-llama"
	if _, err := withKey.Messages.New(ctxTimeout(t), params); err == nil {
		t.Error("a model outside the key's list was served")
	} else if status, typ := anthropicStatus(err); status != 403 || typ != "permission_error" {
		t.Errorf("model outside the key: %d %s", status, typ)
	}

	msgs := []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hi"}}}}
	if _, err := g.bedrockSDK("").Converse(ctxTimeout(t), &bedrockruntime.ConverseInput{ModelId: aws.String("bedrock-claude"), Messages: msgs}); err == nil {
		t.Error("the pass-through served a call without the gateway key")
	} else if !strings.Contains(err.Error(), "UnrecognizedClientException") {
		t.Errorf("no key on /bedrock: %v", err)
	}
	if _, err := g.bedrockSDK(k.Key).Converse(ctxTimeout(t), &bedrockruntime.ConverseInput{ModelId: aws.String("bedrock-claude"), Messages: msgs}); err != nil {
		t.Errorf("x-litellm-api-key on /bedrock: %v", err)
	}
	var ad *types.AccessDeniedException
	if _, err := g.bedrockSDK(k.Key).Converse(ctxTimeout(t), &bedrockruntime.ConverseInput{ModelId: aws.String("bedrock-llama"), Messages: msgs}); !errors.As(err, &ad) {
		t.Errorf("model outside the key on /bedrock: %v", err)
	}

	// Both surfaces' calls are costed from Bedrock's usage, on the key.
	for _, path := range []string{"/v1/messages", "/bedrock/model/bedrock-claude/converse"} {
		line := requestLineWhere(t, g.gateway, func(rec map[string]any) bool { return rec["path"] == path && rec["status"] == 200.0 })
		if line["key"] != "claude-code" || line["prompt_tokens"] == 0.0 || line["completion_tokens"] == 0.0 || line["cost"] == nil || line["cost"] == 0.0 {
			t.Errorf("%s: access log %v", path, line)
		}
	}
	var rows []struct {
		RequestID        string  `json:"request_id"`
		PromptTokens     int     `json:"prompt_tokens"`
		CompletionTokens int     `json:"completion_tokens"`
		Spend            float64 `json:"spend"`
		Status           string  `json:"status"`
	}
	// Rows reach the database in batches: wait for the three served calls.
	served := 0
	for deadline := time.Now().Add(30 * time.Second); served < 3 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		g.admin("GET", "/spend/logs?api_key="+k.Key, "", &rows)
		served = 0
		for _, r := range rows {
			if r.PromptTokens > 0 && r.CompletionTokens > 0 && r.Spend > 0 {
				served++
			}
		}
	}
	if served != 3 {
		t.Errorf("spend log of the key: %+v, want three costed rows (two /v1/messages, one /bedrock)", rows)
	}
}

// requestLineWhere waits for the access log line match accepts: it is
// written once the answer went out, so it may trail the answer.
func requestLineWhere(t *testing.T, g *gateway, match func(map[string]any) bool) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		for _, l := range strings.Split(g.logs.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(l), &rec) == nil && rec["msg"] == "request" && match(rec) {
				return rec
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no such request log line:\n%s", g.logs)
		}
	}
}
