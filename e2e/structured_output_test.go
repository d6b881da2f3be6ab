package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"

	"github.com/strata-gateway/strata/internal/emulator"
)

// json_schema structured output on a model that takes Converse's
// outputConfig goes there (the schema as a string, no tool); on one that
// does not, it rides on the forced tool. The client gets the same answer
// either way, whole and streamed.
func TestStructuredOutputNativeAndTool(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, fmt.Sprintf(`model_list:
  - model_name: native
    litellm_params:
      model: bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
      aws_bedrock_runtime_endpoint: %[1]s
  - model_name: tool
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
      aws_bedrock_runtime_endpoint: %[1]s
`, endpoint), seedEnv...)
	client := g.client()
	ctx := ctxTimeout(t)
	params := func(model string) openai.ChatCompletionNewParams {
		return openai.ChatCompletionNewParams{
			Model:    model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Ann is 31")},
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
		}
	}
	whole := func(model string) string {
		t.Helper()
		resp, err := client.Chat.Completions.New(ctx, params(model))
		if err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		c := resp.Choices[0]
		if c.FinishReason != "stop" || len(c.Message.ToolCalls) != 0 {
			t.Errorf("%s: finish %q, tool calls %v", model, c.FinishReason, c.Message.ToolCalls)
		}
		return c.Message.Content
	}
	streamed := func(model string) string {
		t.Helper()
		stream := client.Chat.Completions.NewStreaming(ctx, params(model))
		var content strings.Builder
		finish := ""
		for stream.Next() {
			for _, c := range stream.Current().Choices {
				content.WriteString(c.Delta.Content)
				if c.FinishReason != "" {
					finish = c.FinishReason
				}
				if len(c.Delta.ToolCalls) > 0 {
					t.Errorf("%s: a tool call reached the client", model)
				}
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("%s stream: %v", model, err)
		}
		if finish != "stop" {
			t.Errorf("%s stream: finish %q", model, finish)
		}
		return content.String()
	}

	// Native: the emulator answers with JSON text made from the schema.
	native := whole("native")
	call := lastCall(t, em)
	out := call.Converse.OutputConfig
	if out == nil || out.TextFormat == nil || out.TextFormat.Type != "json_schema" || out.TextFormat.Structure.JSONSchema == nil ||
		out.TextFormat.Structure.JSONSchema.Name != "person" || call.Converse.ToolConfig != nil {
		t.Fatalf("Bedrock got outputConfig %+v, toolConfig %+v: %s", out, call.Converse.ToolConfig, call.Body)
	}
	var schema map[string]any
	if err := json.Unmarshal([]byte(out.TextFormat.Structure.JSONSchema.Schema), &schema); err != nil || schema["required"] == nil {
		t.Errorf("schema sent as %q: %v", out.TextFormat.Structure.JSONSchema.Schema, err)
	}
	var person struct {
		Name string `json:"name"`
		Age  *int   `json:"age"`
	}
	if err := json.Unmarshal([]byte(native), &person); err != nil || person.Name != "echo: Ann is 31" || person.Age == nil {
		t.Errorf("native content %q: %v", native, err)
	}
	if got := streamed("native"); got != native {
		t.Errorf("native streamed %q, whole %q", got, native)
	}
	if c := lastCall(t, em); c.Operation != "ConverseStream" || c.Converse.OutputConfig == nil {
		t.Errorf("streamed: %s with outputConfig %v", c.Operation, c.Converse.OutputConfig)
	}

	// Forced tool: the model answers through json_tool_call with the same JSON.
	for _, stream := range []bool{false, true} {
		em.Script(emulator.Script{Model: "anthropic.claude-3-5-sonnet-20240620-v1:0", Response: toolUseAnswer(toolUse("tooluse_json", "json_tool_call", native))})
		got := ""
		if stream {
			got = streamed("tool")
		} else {
			got = whole("tool")
		}
		c := lastCall(t, em)
		if tc := c.Converse.ToolConfig; tc == nil || tc.ToolChoice == nil || tc.ToolChoice.Tool == nil || tc.ToolChoice.Tool.Name != "json_tool_call" || c.Converse.OutputConfig != nil {
			t.Errorf("tool path (stream %v): Bedrock got %s", stream, c.Body)
		}
		if got != native {
			t.Errorf("tool path (stream %v) answered %q, native %q", stream, got, native)
		}
	}
}
