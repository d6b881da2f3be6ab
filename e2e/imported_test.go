package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/param"
)

// LiteLLM's route prefixes for Custom Model Import call InvokeModel on the
// imported model's ARN with its family's body, whole and streamed, and
// read its answers; an imported ARN without a prefix starts with a warning
// naming them.
func TestImportedModels(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	const arn = "arn:aws:bedrock:" + testRegion + ":123456789012:imported-model/"
	entry := func(name, model string) string {
		return fmt.Sprintf(`  - model_name: %s
    litellm_params:
      model: %s
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
      aws_bedrock_runtime_endpoint: %s
`, name, model, endpoint)
	}
	g := startGateway(t, "model_list:\n"+
		entry("my-llama", "bedrock/llama/"+arn+"llama0000001")+
		entry("my-r1", "bedrock/deepseek_r1/"+arn+"deepseek0001")+
		entry("my-qwen", "bedrock/qwen3/"+arn+"qwen00000001")+
		entry("my-oss", "bedrock/openai/"+arn+"openai000001")+
		entry("unsure", "bedrock/"+arn+"unknown00001"), seedEnv...)
	if logs := g.logs.String(); !strings.Contains(logs, arn+"unknown00001 is an imported model") || !strings.Contains(logs, "bedrock/llama/"+arn+"unknown00001") {
		t.Errorf("no startup warning naming the prefixes for the unprefixed imported ARN:\n%s", logs)
	}
	client := g.client()
	ctx := ctxTimeout(t)

	for _, c := range []struct {
		model, id string
		marker    string // what the family's body carries
		reasoning bool
	}{
		{"my-llama", "llama0000001", `<|start_header_id|>user<|end_header_id|>\n\nhello there`, false},
		{"my-r1", "deepseek0001", `<｜User｜>hello there<｜Assistant｜><think>\n`, true},
		{"my-qwen", "qwen00000001", `<|im_start|>user\nhello there<|im_end|>`, false},
		{"my-oss", "openai000001", `"messages":[{"content":"Be brief.","role":"system"},{"content":"hello there","role":"user"}]`, false},
	} {
		params := openai.ChatCompletionNewParams{Model: c.model, Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("Be brief."), openai.UserMessage("hello there")}}
		out, err := client.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatalf("%s: %v", c.model, err)
		}
		if got := out.Choices[0].Message.Content; got != "echo: hello there" || out.Usage.PromptTokens == 0 || out.Usage.CompletionTokens == 0 {
			t.Errorf("%s answered %q, usage %+v", c.model, got, out.Usage)
		}
		reasoning := out.Choices[0].Message.JSON.ExtraFields["reasoning_content"].Raw()
		if c.reasoning != (reasoning != "") {
			t.Errorf("%s: reasoning_content %s", c.model, reasoning)
		}
		call := lastCall(t, em)
		if call.Operation != "InvokeModel" || call.ModelID != arn+c.id || call.Status != http.StatusOK || !strings.Contains(string(call.Body), c.marker) {
			t.Errorf("%s: Bedrock got %s on %s (status %d %s): %s", c.model, call.Operation, call.ModelID, call.Status, call.Error, call.Body)
		}

		params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: param.NewOpt(true)}
		stream := client.Chat.Completions.NewStreaming(ctx, params)
		var text, thought strings.Builder
		var usage openai.CompletionUsage
		for stream.Next() {
			chunk := stream.Current()
			if len(chunk.Choices) > 0 {
				text.WriteString(chunk.Choices[0].Delta.Content)
				if r := chunk.Choices[0].Delta.JSON.ExtraFields["reasoning_content"].Raw(); r != "" {
					var s string
					_ = json.Unmarshal([]byte(r), &s)
					thought.WriteString(s)
				}
			}
			if chunk.Usage.TotalTokens > 0 {
				usage = chunk.Usage
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("%s stream: %v", c.model, err)
		}
		if text.String() != "echo: hello there" || usage.CompletionTokens == 0 || c.reasoning != (thought.Len() > 0) {
			t.Errorf("%s streamed %q (reasoning %q), usage %+v", c.model, text.String(), thought.String(), usage)
		}
		if call := lastCall(t, em); call.Operation != "InvokeModelWithResponseStream" || call.ModelID != arn+c.id || call.Status != http.StatusOK {
			t.Errorf("%s: stream reached Bedrock as %s on %s (status %d %s)", c.model, call.Operation, call.ModelID, call.Status, call.Error)
		}
	}
}
