package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/strata-gateway/strata/internal/emulator"
)

// The seed's curl example, verbatim body, against POST /chat/completions.
func TestSeedCurl(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)

	status, raw, hdr := g.post(t, "/chat/completions", ` {
      "model": "bedrock-claude",
      "messages": [
        {
          "role": "user",
          "content": "what llm are you"
        }
      ]
    }
`)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, raw)
	}
	if hdr.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id header")
	}
	var resp struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		Model   string `json:"model"`
		Choices []struct {
			Index   int `json:"index"`
			Message struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
			TotalTokens      int `json:"total_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.ID, "chatcmpl-") || resp.Object != "chat.completion" || resp.Created == 0 {
		t.Errorf("envelope: id %q object %q created %d", resp.ID, resp.Object, resp.Created)
	}
	if len(resp.Choices) != 1 || resp.Choices[0].Message.Content != "echo: what llm are you" ||
		resp.Choices[0].Message.Role != "assistant" || resp.Choices[0].FinishReason != "stop" {
		t.Errorf("choices: %+v", resp.Choices)
	}
	if resp.Usage.PromptTokens != 4 || resp.Usage.CompletionTokens != 5 || resp.Usage.TotalTokens != 9 {
		t.Errorf("usage: %+v", resp.Usage)
	}

	call := lastCall(t, em)
	if call.Operation != "Converse" || call.ModelID != "anthropic.claude-3-5-sonnet-20240620-v1:0" {
		t.Errorf("emulator got %s for %q", call.Operation, call.ModelID)
	}
	if call.AccessKeyID != testAccessKey || call.Region != testRegion || call.Status != http.StatusOK {
		t.Errorf("signed with %q for %q, answered %d (%s)", call.AccessKeyID, call.Region, call.Status, call.Error)
	}
	if !strings.Contains(call.RawPath, "%3A0") {
		t.Errorf("model id not escaped in path as the AWS SDKs do: %s", call.RawPath)
	}
	ic := call.Converse.InferenceConfig
	if ic == nil || ic.Temperature == nil || *ic.Temperature != 0.2 {
		t.Errorf("config default temperature not sent: %+v", ic)
	}
	if string(call.Converse.AdditionalModelRequestFields) != `{"top_k":1}` {
		t.Errorf("additionalModelRequestFields = %s", call.Converse.AdditionalModelRequestFields)
	}
}

// The OpenAI SDK with both base URL forms, request params overriding the
// config's, a provider-specific param from extra_body, and a system prompt.
func TestSDKChat(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)

	for _, base := range []string{g.URL, g.URL + "/v1"} {
		t.Run(base, func(t *testing.T) {
			client := g.client(option.WithBaseURL(base))
			resp, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
				Model: "bedrock-claude",
				Messages: []openai.ChatCompletionMessageParamUnion{
					openai.SystemMessage("You are a helpful assistant."),
					openai.UserMessage("this is a test request, write a short poem"),
				},
				Temperature: openai.Float(0.7),
				TopP:        openai.Float(1),
				MaxTokens:   openai.Int(300),
				Stop:        openai.ChatCompletionNewParamsStopUnion{OfStringArray: []string{"END"}},
			}, option.WithJSONSet("top_k", 5))
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Choices[0].Message.Content; got != "echo: this is a test request, write a short poem" {
				t.Errorf("content %q", got)
			}
			if resp.Choices[0].FinishReason != "stop" || resp.Model != "anthropic.claude-3-5-sonnet-20240620-v1:0" {
				t.Errorf("finish %q model %q", resp.Choices[0].FinishReason, resp.Model)
			}

			got := lastCall(t, em).Converse
			if len(got.System) != 1 || got.System[0].Text == nil || *got.System[0].Text != "You are a helpful assistant." {
				t.Errorf("system blocks: %+v", got.System)
			}
			ic := got.InferenceConfig
			if ic == nil || *ic.Temperature != 0.7 || *ic.TopP != 1 || *ic.MaxTokens != 300 || len(ic.StopSequences) != 1 || ic.StopSequences[0] != "END" {
				t.Errorf("inferenceConfig: %+v", ic)
			}
			if string(got.AdditionalModelRequestFields) != `{"top_k":5}` {
				t.Errorf("the request's top_k must win over the config's: %s", got.AdditionalModelRequestFields)
			}
		})
	}
}

// Streaming through the SDK: role first, one chunk per Bedrock delta,
// finish_reason once, usage in its own last chunk.
func TestSDKStream(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)
	client := g.client()

	stream := client.Chat.Completions.NewStreaming(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model: "bedrock-claude",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("You are a helpful assistant."),
			openai.UserMessage("Hello! How are you today?"),
		},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var acc openai.ChatCompletionAccumulator
	var chunks, finishes, contentChunks int
	var firstRole string
	var usageChunk bool
	for stream.Next() {
		c := stream.Current()
		acc.AddChunk(c)
		chunks++
		if len(c.Choices) == 0 {
			usageChunk = c.Usage.TotalTokens > 0
			continue
		}
		if chunks == 1 {
			firstRole = c.Choices[0].Delta.Role
		}
		if c.Choices[0].Delta.Content != "" {
			contentChunks++
		}
		if c.Choices[0].FinishReason != "" {
			finishes++
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	want := "echo: Hello! How are you today?"
	if got := acc.Choices[0].Message.Content; got != want {
		t.Errorf("accumulated %q, want %q", got, want)
	}
	if firstRole != "assistant" || finishes != 1 || !usageChunk {
		t.Errorf("first role %q, finish chunks %d, usage chunk %v", firstRole, finishes, usageChunk)
	}
	if contentChunks != len(strings.Fields(want)) {
		t.Errorf("%d content chunks; the emulator sent one delta per word (%d)", contentChunks, len(strings.Fields(want)))
	}
	if acc.Usage.PromptTokens != 10 || acc.Usage.CompletionTokens != 6 {
		t.Errorf("usage %+v", acc.Usage)
	}
	call := lastCall(t, em)
	if call.Operation != "ConverseStream" || len(call.Converse.System) != 1 {
		t.Errorf("emulator got %s with system %+v", call.Operation, call.Converse.System)
	}
}

// The seed's curl with stream: true, read as raw SSE: the wire ends with
// data: [DONE] and every event is a chat.completion.chunk.
func TestRawSSE(t *testing.T) {
	_, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)
	status, raw, hdr := g.post(t, "/chat/completions", `{"model":"bedrock-claude","stream":true,"messages":[{"role":"user","content":"hi there"}]}`)
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, content type %q: %s", status, hdr.Get("Content-Type"), raw)
	}
	events := strings.Split(strings.TrimSpace(string(raw)), "\n\n")
	if events[len(events)-1] != "data: [DONE]" {
		t.Errorf("last event %q", events[len(events)-1])
	}
	var text strings.Builder
	for _, ev := range events[:len(events)-1] {
		c := decodeChunk(t, strings.TrimPrefix(ev, "data: "))
		if c.Object != "chat.completion.chunk" {
			t.Errorf("object %q", c.Object)
		}
		text.WriteString(c.content())
	}
	if text.String() != "echo: hi there" {
		t.Errorf("streamed text %q", text.String())
	}
}

// rawChunk is a chat.completion.chunk as read off the wire.
type rawChunk struct {
	Object  string `json:"object"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
	} `json:"choices"`
}

func decodeChunk(t *testing.T, data string) rawChunk {
	t.Helper()
	var c rawChunk
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		t.Fatalf("event %q: %v", data, err)
	}
	return c
}

// content is the text the chunk adds, over all its choices.
func (c rawChunk) content() string {
	var b strings.Builder
	for _, ch := range c.Choices {
		b.WriteString(ch.Delta.Content)
	}
	return b.String()
}

// Events that reached the gateway reach the client while Bedrock is still
// silent: the gateway writes what arrived together in one go, but never
// keeps an event back to wait for the next.
func TestStreamEventsReachClientBeforeAStall(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)
	// messageStart and three words, then nothing for a minute.
	em.Fault(emulator.Fault{Kind: emulator.FaultStreamStall, AfterEvents: 4, Delay: time.Minute})

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	body := `{"model":"bedrock-claude","stream":true,"messages":[{"role":"user","content":"tell me a long story"}]}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("no answer before the stall ended: %v", err)
	}
	defer resp.Body.Close()
	var text strings.Builder
	lines := bufio.NewScanner(resp.Body)
	for len(strings.Fields(text.String())) < 3 && lines.Scan() {
		data, ok := strings.CutPrefix(lines.Text(), "data: ")
		if !ok {
			continue
		}
		text.WriteString(decodeChunk(t, data).content())
	}
	if got := text.String(); got != "echo: tell me" {
		t.Fatalf("before the stall the client got %q (%v), want the three words Bedrock sent", got, lines.Err())
	}
}

func TestModelsAndHealth(t *testing.T) {
	_, endpoint := bedrockEmulator(t)
	cfg := seedConfig(endpoint) + `  - model_name: bedrock-claude
    litellm_params:
      model: bedrock/converse/anthropic.claude-3-haiku-20240307-v1:0
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: us-west-2
  - model_name: bedrock-llama
    litellm_params:
      model: bedrock/meta.llama3-70b-instruct-v1:0
      aws_region_name: us-west-2
`
	g := startGateway(t, cfg, seedEnv...)
	client := g.client()
	page, err := client.Models.List(ctxTimeout(t))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "bedrock-claude,bedrock-llama" {
		t.Errorf("models %v: one entry per model_name, in config order", ids)
	}
	m, err := client.Models.Get(ctxTimeout(t), "bedrock-llama")
	if err != nil || m.ID != "bedrock-llama" {
		t.Errorf("get model: %v %+v", err, m)
	}
	for _, path := range []string{"/health/liveliness", "/health/readiness"} {
		resp, err := http.Get(g.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
}

// strata --model serves one model with no config file, its model string
// doubling as the model name; credentials and endpoint come from the
// environment as the AWS SDKs read it.
func TestModelFlag(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startStrata(t, []string{
		"AWS_ACCESS_KEY_ID=" + testAccessKey,
		"AWS_SECRET_ACCESS_KEY=" + testSecretKey,
		"AWS_REGION=" + testRegion,
		"AWS_ENDPOINT_URL_BEDROCK_RUNTIME=" + endpoint,
	}, "--model", "bedrock/anthropic.claude-3-haiku-20240307-v1:0")
	client := g.client()
	resp, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model:    "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello there")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content != "echo: hello there" {
		t.Errorf("content %q", resp.Choices[0].Message.Content)
	}
	call := lastCall(t, em)
	if call.ModelID != "anthropic.claude-3-haiku-20240307-v1:0" || call.AccessKeyID != testAccessKey || call.Region != testRegion {
		t.Errorf("emulator got model %q key %q region %q", call.ModelID, call.AccessKeyID, call.Region)
	}
}

// `strata demo`, the README's first command: the gateway in front of the
// built-in emulator answers the seed's curl with no AWS account.
func TestDemo(t *testing.T) {
	g := startStrata(t, nil, "demo")
	status, raw, _ := g.post(t, "/chat/completions", `{"model": "bedrock-claude", "messages": [{"role": "user", "content": "what llm are you"}]}`)
	if status != http.StatusOK || !strings.Contains(string(raw), `"content":"echo: what llm are you"`) {
		t.Fatalf("status %d: %s", status, raw)
	}
	status, raw, _ = g.post(t, "/chat/completions", `{"model": "bedrock-llama", "stream": true, "messages": [{"role": "user", "content": "Hello!"}]}`)
	if status != http.StatusOK || !strings.HasSuffix(strings.TrimSpace(string(raw)), "data: [DONE]") {
		t.Fatalf("stream: status %d: %s", status, raw)
	}
	status, raw, _ = g.post(t, "/embeddings", `{"model": "bedrock-titan-embeddings", "input": "The food was delicious and the waiter..."}`)
	if status != http.StatusOK || !strings.Contains(string(raw), `"object":"embedding"`) {
		t.Fatalf("embeddings: status %d: %.300s", status, raw)
	}
	status, raw, _ = g.post(t, "/chat/completions", `{"model": "bedrock-cohere", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}`)
	if status != http.StatusOK || !strings.Contains(string(raw), `echo: `) {
		t.Fatalf("cohere over InvokeModel: status %d: %s", status, raw)
	}
}
