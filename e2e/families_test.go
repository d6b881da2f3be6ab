package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/strata-gateway/strata/internal/emulator"
)

// modelsConfig is a config serving each model under its name, with the
// seed's credentials, against the emulator at endpoint.
func modelsConfig(endpoint string, models [][2]string, extra string) string {
	var b strings.Builder
	b.WriteString("model_list:\n")
	for _, m := range models {
		fmt.Fprintf(&b, `  - model_name: %s
    litellm_params:
      model: %s
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
      aws_bedrock_runtime_endpoint: %s
`, m[0], m[1], endpoint)
	}
	b.WriteString(extra)
	return b.String()
}

// seedFamily is a row of the seed's model table and what reaches Bedrock
// for it: the operation of a plain call and of a streamed one.
type seedFamily struct {
	name, model string
	call        string // operation of a plain call
	streamCall  string // operation of a streamed call
}

// seedFamilies is every row of the seed's "Supported AWS Bedrock Models"
// table, plus the native bodies bedrock/invoke/ forces.
var seedFamilies = []seedFamily{
	{"claude-3-5-sonnet", "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0", "Converse", "ConverseStream"},
	{"claude-3-sonnet", "bedrock/anthropic.claude-3-sonnet-20240229-v1:0", "Converse", "ConverseStream"},
	{"claude-3-haiku", "bedrock/anthropic.claude-3-haiku-20240307-v1:0", "Converse", "ConverseStream"},
	{"claude-3-opus", "bedrock/anthropic.claude-3-opus-20240229-v1:0", "Converse", "ConverseStream"},
	{"claude-2-1", "bedrock/anthropic.claude-v2:1", "Converse", "ConverseStream"},
	{"claude-2", "bedrock/anthropic.claude-v2", "Converse", "ConverseStream"},
	{"claude-instant", "bedrock/anthropic.claude-instant-v1", "Converse", "ConverseStream"},
	{"llama3-70b", "bedrock/meta.llama3-70b-instruct-v1:0", "Converse", "ConverseStream"},
	{"llama3-8b", "bedrock/meta.llama3-8b-instruct-v1:0", "Converse", "ConverseStream"},
	{"titan-lite", "bedrock/amazon.titan-text-lite-v1", "Converse", "ConverseStream"},
	{"titan-express", "bedrock/amazon.titan-text-express-v1", "Converse", "ConverseStream"},
	{"cohere-command", "bedrock/cohere.command-text-v14", "InvokeModel", "InvokeModelWithResponseStream"},
	{"j2-mid", "bedrock/ai21.j2-mid-v1", "InvokeModel", "InvokeModel"},
	{"j2-ultra", "bedrock/ai21.j2-ultra-v1", "InvokeModel", "InvokeModel"},
	{"jamba-instruct", "bedrock/ai21.jamba-instruct-v1:0", "Converse", "ConverseStream"},
	{"llama2-13b", "bedrock/meta.llama2-13b-chat-v1", "Converse", "ConverseStream"},
	{"llama2-70b", "bedrock/meta.llama2-70b-chat-v1", "Converse", "ConverseStream"},
	{"mistral-7b", "bedrock/mistral.mistral-7b-instruct-v0:2", "Converse", "ConverseStream"},
	{"mixtral", "bedrock/mistral.mixtral-8x7b-instruct-v0:1", "Converse", "ConverseStream"},

	{"invoke-claude", "bedrock/invoke/anthropic.claude-3-5-sonnet-20240620-v1:0", "InvokeModel", "InvokeModelWithResponseStream"},
	{"invoke-claude-instant", "bedrock/invoke/anthropic.claude-instant-v1", "InvokeModel", "InvokeModelWithResponseStream"},
	{"invoke-llama3", "bedrock/invoke/meta.llama3-8b-instruct-v1:0", "InvokeModel", "InvokeModelWithResponseStream"},
	{"invoke-llama2", "bedrock/invoke/meta.llama2-13b-chat-v1", "InvokeModel", "InvokeModelWithResponseStream"},
	{"invoke-titan", "bedrock/invoke/amazon.titan-text-express-v1", "InvokeModel", "InvokeModelWithResponseStream"},
	{"invoke-mistral", "bedrock/invoke/mistral.mixtral-8x7b-instruct-v0:1", "InvokeModel", "InvokeModelWithResponseStream"},
	{"converse-llama3", "bedrock/converse/meta.llama3-8b-instruct-v1:0", "Converse", "ConverseStream"},
}

func familiesGateway(t *testing.T) (*emulator.Emulator, *gateway) {
	t.Helper()
	em, endpoint := bedrockEmulator(t)
	models := make([][2]string, len(seedFamilies))
	for i, f := range seedFamilies {
		models[i] = [2]string{f.name, f.model}
	}
	return em, startGateway(t, modelsConfig(endpoint, models, ""), seedEnv...)
}

// bedrockID is the model id in the Bedrock URL for a config's model string.
func bedrockID(model string) string {
	id := strings.TrimPrefix(model, "bedrock/")
	id = strings.TrimPrefix(id, "invoke/")
	return strings.TrimPrefix(id, "converse/")
}

// Every chat model of the seed's table answers a plain call through the API
// Strata picks for its family, with the official OpenAI SDK.
func TestFamiliesChat(t *testing.T) {
	em, g := familiesGateway(t)
	client := g.client()
	for _, f := range seedFamilies {
		t.Run(f.name, func(t *testing.T) {
			prompt := "ping " + f.name
			resp, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
				Model:    f.name,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Choices) != 1 || resp.Choices[0].Message.Content != "echo: "+prompt || resp.Choices[0].FinishReason != "stop" {
				t.Errorf("answer: %+v", resp.Choices)
			}
			if resp.Usage.PromptTokens == 0 || resp.Usage.CompletionTokens != 3 || resp.Usage.TotalTokens != resp.Usage.PromptTokens+3 {
				t.Errorf("usage: %+v", resp.Usage)
			}
			call := lastCall(t, em)
			if call.Operation != f.call || call.ModelID != bedrockID(f.model) || call.Status != 200 {
				t.Errorf("Bedrock got %s %s (status %d %s), want %s", call.Operation, call.ModelID, call.Status, call.Error, f.call)
			}
		})
	}
}

// Streaming works for every family: through ConverseStream or
// InvokeModelWithResponseStream where the model streams, and as the whole
// answer replayed where it cannot (Jurassic-2).
func TestFamiliesStream(t *testing.T) {
	em, g := familiesGateway(t)
	client := g.client()
	for _, f := range seedFamilies {
		t.Run(f.name, func(t *testing.T) {
			prompt := "stream to " + f.name
			stream := client.Chat.Completions.NewStreaming(ctxTimeout(t), openai.ChatCompletionNewParams{
				Model:         f.name,
				Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
				StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
			})
			var acc openai.ChatCompletionAccumulator
			chunks, finishes := 0, 0
			for stream.Next() {
				chunk := stream.Current()
				acc.AddChunk(chunk)
				chunks++
				if len(chunk.Choices) > 0 && chunk.Choices[0].FinishReason != "" {
					finishes++
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if got := acc.Choices[0].Message.Content; got != "echo: "+prompt {
				t.Errorf("streamed %q", got)
			}
			if finishes != 1 || acc.Choices[0].FinishReason != "stop" || acc.Usage.CompletionTokens != 4 || chunks < 4 {
				t.Errorf("%d chunks, %d finish reasons (%q), usage %+v", chunks, finishes, acc.Choices[0].FinishReason, acc.Usage)
			}
			call := lastCall(t, em)
			if call.Operation != f.streamCall || call.Status != 200 {
				t.Errorf("Bedrock got %s (status %d %s), want %s", call.Operation, call.Status, call.Error, f.streamCall)
			}
		})
	}
}

// Native bodies carry the whole conversation in the family's own format,
// with the request's settings under the family's names.
func TestFamiliesNativeBodies(t *testing.T) {
	em, g := familiesGateway(t)
	client := g.client()
	conversation := []openai.ChatCompletionMessageParamUnion{
		openai.SystemMessage("Be brief."),
		openai.UserMessage("Hi"),
		openai.AssistantMessage("Hello."),
		openai.UserMessage("what llm are you"),
	}
	cases := []struct {
		name string
		want map[string]any
	}{
		{"cohere-command", map[string]any{"prompt": "Be brief.\n\nUser: Hi\nChatbot: Hello.\nUser: what llm are you\nChatbot:", "max_tokens": 50.0, "temperature": 0.5}},
		{"j2-mid", map[string]any{"prompt": "Be brief.\n\nUser: Hi\nAssistant: Hello.\nUser: what llm are you\nAssistant:", "maxTokens": 50.0, "temperature": 0.5}},
		{"invoke-llama3", map[string]any{"prompt": "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" +
			"<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>" +
			"<|start_header_id|>user<|end_header_id|>\n\nwhat llm are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
			"max_gen_len": 50.0, "temperature": 0.5}},
		{"invoke-llama2", map[string]any{"prompt": "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello. </s><s>[INST] what llm are you [/INST]"}},
		{"invoke-mistral", map[string]any{"prompt": "<s>[INST] Be brief.\n\nHi [/INST] Hello.</s>[INST] what llm are you [/INST]", "max_tokens": 50.0}},
		{"invoke-titan", map[string]any{"inputText": "Be brief.\n\nUser: Hi\nBot: Hello.\nUser: what llm are you\nBot:"}},
		{"invoke-claude", map[string]any{"anthropic_version": "bedrock-2023-05-31", "system": "Be brief.", "max_tokens": 50.0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
				Model: c.name, Messages: conversation, MaxTokens: openai.Int(50), Temperature: openai.Float(0.5),
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Choices[0].Message.Content; got != "echo: what llm are you" {
				t.Errorf("answer %q", got)
			}
			var body map[string]any
			if err := json.Unmarshal(lastCall(t, em).Body, &body); err != nil {
				t.Fatal(err)
			}
			for k, want := range c.want {
				if got := body[k]; fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("body %s = %#v, want %#v", k, got, want)
				}
			}
		})
	}
}

// Calling an endpoint the model does not serve is a 400 that names the one
// it does.
func TestWrongEndpoint(t *testing.T) {
	_, endpoint := bedrockEmulator(t)
	g := startGateway(t, modelsConfig(endpoint, [][2]string{
		{"chat", "bedrock/anthropic.claude-3-haiku-20240307-v1:0"},
		{"embed", "bedrock/amazon.titan-embed-text-v2:0"},
		{"image", "bedrock/stability.stable-diffusion-xl-v1"},
	}, ""), seedEnv...)
	cases := []struct{ path, body, want string }{
		{"/v1/embeddings", `{"model": "chat", "input": "hi"}`, "serves POST /v1/chat/completions, not /v1/embeddings"},
		{"/v1/chat/completions", `{"model": "embed", "messages": [{"role": "user", "content": "hi"}]}`, "is an embedding model: it serves POST /v1/embeddings"},
		{"/v1/images/generations", `{"model": "chat", "prompt": "otter"}`, "serves POST /v1/chat/completions, not /v1/images/generations"},
		{"/chat/completions", `{"model": "image", "messages": [{"role": "user", "content": "hi"}], "stream": true}`, "is an image-generation model: it serves POST /v1/images/generations"},
		{"/embeddings", `{"model": "image", "input": "hi"}`, "not /v1/embeddings"},
	}
	for _, c := range cases {
		status, raw, _ := g.post(t, c.path, c.body)
		msg, typ, param, code := errorBody(t, raw)
		if status != 400 || !strings.Contains(msg, c.want) || typ != "invalid_request_error" || param == nil || *param != "model" || code == nil || *code != "wrong_endpoint" {
			t.Errorf("%s %s: %d %s", c.path, c.body, status, raw)
		}
	}
}

// runStrataExpectingFailure starts strata with config and returns what it
// printed; it must exit with an error before serving.
func runStrataExpectingFailure(t *testing.T, config string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, strataBin, "--config", path, "--host", "127.0.0.1", "--port", "0")
	cmd.Env = append(baseEnv(), seedEnv...)
	out, err := cmd.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("strata did not fail at startup (err %v):\n%s", err, out)
	}
	return string(out)
}

// A route a model cannot take stops startup with a message saying what to
// write instead; an unknown provider starts, with a warning.
func TestFamiliesStartup(t *testing.T) {
	_, endpoint := bedrockEmulator(t)
	out := runStrataExpectingFailure(t, modelsConfig(endpoint, [][2]string{
		{"cohere", "bedrock/converse/cohere.command-text-v14"},
		{"nova", "bedrock/invoke/amazon.nova-pro-v1:0"},
		{"embed", "bedrock/converse/amazon.titan-embed-text-v1"},
	}, ""))
	for _, want := range []string{
		"model_list[0] (cohere): Bedrock's Converse API does not serve chat for cohere.command-text-v14 (Cohere Command); write bedrock/cohere.command-text-v14 or bedrock/invoke/cohere.command-text-v14",
		"model_list[1] (nova): Strata has no InvokeModel body for amazon.nova-pro-v1:0 (Amazon Nova); write bedrock/amazon.nova-pro-v1:0 to use the Converse API",
		"model_list[2] (embed): amazon.titan-embed-text-v1 (Amazon Titan Text Embeddings) serves /v1/embeddings, which Bedrock offers only through InvokeModel",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("startup output lacks %q:\n%s", want, out)
		}
	}

	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, modelsConfig(endpoint, [][2]string{{"new", "bedrock/acme.rocket-chat-v1:0"}}, ""), seedEnv...)
	if !strings.Contains(g.logs.String(), "Strata does not know the Bedrock provider") {
		t.Errorf("no warning about the unknown provider:\n%s", g.logs)
	}
	client := g.client(option.WithMaxRetries(0))
	if _, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model: "new", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	}); err != nil {
		t.Fatal(err)
	}
	if call := lastCall(t, em); call.Operation != "Converse" {
		t.Errorf("unknown provider went through %s", call.Operation)
	}
}
