package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/strata-gateway/strata/internal/emulator"
)

// Bad requests get an OpenAI-shaped 4xx that says what is wrong, and never
// reach Bedrock.
func TestBadRequests(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint)+"general_settings:\n  max_request_size_mb: 1\n", seedEnv...)

	cases := []struct {
		name, body string
		status     int
		param      string
		inMessage  string
	}{
		{"unknown model", `{"model":"gpt-4","messages":[{"role":"user","content":"hi"}]}`, 400, "model", "bedrock-claude"},
		{"missing model", `{"messages":[{"role":"user","content":"hi"}]}`, 400, "model", "model is required"},
		{"malformed JSON", `{"model":"bedrock-claude","messages":[`, 400, "", "not valid JSON"},
		{"not an object", `[1,2]`, 400, "", "JSON object"},
		{"messages wrong type", `{"model":"bedrock-claude","messages":"hi"}`, 400, "messages", "expected an array"},
		{"temperature wrong type", `{"model":"bedrock-claude","temperature":"hot","messages":[{"role":"user","content":"hi"}]}`, 400, "temperature", "expected a number"},
		{"empty messages", `{"model":"bedrock-claude","messages":[]}`, 400, "messages", "at least one message"},
		{"empty body", ``, 400, "", "empty"},
		{"empty content", `{"model":"bedrock-claude","messages":[{"role":"user","content":""}]}`, 400, "messages[0].content", "must not be empty"},
		{"bad role", `{"model":"bedrock-claude","messages":[{"role":"wizard","content":"hi"}]}`, 400, "messages[0].role", "unknown role"},
		{"n > 1", `{"model":"bedrock-claude","n":2,"messages":[{"role":"user","content":"hi"}]}`, 400, "n", "drop_params"},
		{"logprobs", `{"model":"bedrock-claude","logprobs":true,"messages":[{"role":"user","content":"hi"}]}`, 400, "logprobs", "not supported"},
		{"max_tokens 0", `{"model":"bedrock-claude","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`, 400, "max_tokens", "at least 1"},
		{"too large", `{"model":"bedrock-claude","messages":[{"role":"user","content":"` + strings.Repeat("a", 2<<20) + `"}]}`, 413, "", "larger than the limit of 1 MB"},
		// Nothing the client sent is changed or skipped without telling it.
		{"text part without text", `{"model":"bedrock-claude","messages":[{"role":"user","content":[{"type":"text","text":"look"},{"type":"text"}]}]}`, 400, "messages[0].content[1].text", "a text part needs text"},
		{"invalid UTF-8", "{\"model\":\"bedrock-claude\",\"messages\":[{\"role\":\"user\",\"content\":\"caf\xe9\"}]}", 400, "messages[0].content", "not valid UTF-8"},
		{"unpaired surrogate", `{"model":"bedrock-claude","messages":[{"role":"user","content":"\ud83d"}]}`, 400, "messages[0].content", "unpaired UTF-16 surrogate"},
		{"wrong type deep down", `{"model":"bedrock-claude","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"},{"role":"user","content":[{"type":"text","text":5}]}]}`, 400, "messages[2].content[0].text", "expected a string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			em.Reset()
			status, raw, _ := g.post(t, "/chat/completions", c.body)
			if status != c.status {
				t.Fatalf("status %d, want %d: %s", status, c.status, raw)
			}
			msg, typ, param, _ := errorBody(t, raw)
			if typ != "invalid_request_error" {
				t.Errorf("type %q", typ)
			}
			if !strings.Contains(msg, c.inMessage) {
				t.Errorf("message %q lacks %q", msg, c.inMessage)
			}
			if (param == nil && c.param != "") || (param != nil && *param != c.param) {
				t.Errorf("param %v, want %q", param, c.param)
			}
			if n := len(em.Calls()); n != 0 {
				t.Errorf("a bad request reached Bedrock (%d calls)", n)
			}
		})
	}

	t.Run("wrong method", func(t *testing.T) {
		resp, err := http.Get(g.URL + "/chat/completions")
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Errorf("status %d, Allow %q; want 405 and POST", resp.StatusCode, resp.Header.Get("Allow"))
		}
		msg, typ, _, code := errorBody(t, raw)
		if typ != "invalid_request_error" || code == nil || *code != "method_not_allowed" || !strings.Contains(msg, "GET") || !strings.Contains(msg, "POST") {
			t.Errorf("error type %q, code %v, message %q; want invalid_request_error, method_not_allowed and a message naming GET and POST", typ, code, msg)
		}
	})
	t.Run("unknown path", func(t *testing.T) {
		status, raw, _ := g.post(t, "/v1/completions/nope", `{}`)
		if status != http.StatusNotFound {
			t.Errorf("status %d", status)
		}
		errorBody(t, raw)
	})
}

// Every Bedrock exception reaches the client as the OpenAI error its SDK
// expects, with Bedrock's message kept.
func TestBedrockErrors(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)
	client := g.client()

	cases := []struct {
		fault  string
		status int
		typ    string
	}{
		{emulator.FaultThrottling, 429, "rate_limit_error"},
		{emulator.FaultValidation, 400, "invalid_request_error"},
		{emulator.FaultAccessDenied, 403, "permission_error"},
		{emulator.FaultNotFound, 404, "not_found_error"},
		{emulator.FaultModelTimeout, 408, "timeout_error"},
		{emulator.FaultModelNotReady, 503, "service_unavailable_error"},
		{emulator.FaultUnavailable, 503, "service_unavailable_error"},
		{emulator.FaultInternal, 500, "server_error"},
		{emulator.FaultModelError, 424, "api_error"},
	}
	for _, c := range cases {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s stream=%v", c.fault, stream), func(t *testing.T) {
				em.Fault(emulator.Fault{Kind: c.fault})
				params := openai.ChatCompletionNewParams{
					Model:    "bedrock-claude",
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
				}
				var err error
				if stream {
					s := client.Chat.Completions.NewStreaming(ctxTimeout(t), params)
					for s.Next() {
					}
					err = s.Err()
				} else {
					_, err = client.Chat.Completions.New(ctxTimeout(t), params)
				}
				var apiErr *openai.Error
				if !errors.As(err, &apiErr) {
					t.Fatalf("want an API error, got %v", err)
				}
				if apiErr.StatusCode != c.status || apiErr.Type != c.typ {
					t.Errorf("status %d type %q, want %d %q", apiErr.StatusCode, apiErr.Type, c.status, c.typ)
				}
				call := lastCall(t, em)
				if call.Fault != c.fault {
					t.Errorf("the emulator did not inject %s", c.fault)
				}
				if !strings.Contains(apiErr.Message, "Bedrock") || len(apiErr.Message) < 20 {
					t.Errorf("message %q does not carry Bedrock's", apiErr.Message)
				}
			})
		}
	}
}

// A wrong secret is the operator's problem, but the client must get a clear
// 401 rather than a 500, and the log must say which model entry failed.
func TestWrongSecret(t *testing.T) {
	_, endpoint := bedrockEmulator(t)
	env := []string{
		"CUSTOM_AWS_ACCESS_KEY_ID=" + testAccessKey,
		"CUSTOM_AWS_SECRET_ACCESS_KEY=not-the-secret-at-all",
		"CUSTOM_AWS_REGION_NAME=" + testRegion,
	}
	g := startGateway(t, seedConfig(endpoint), env...)
	status, raw, _ := g.post(t, "/chat/completions", `{"model":"bedrock-claude","messages":[{"role":"user","content":"hi"}]}`)
	if status != http.StatusUnauthorized {
		t.Fatalf("status %d: %s", status, raw)
	}
	msg, typ, _, _ := errorBody(t, raw)
	if typ != "authentication_error" || !strings.Contains(msg, "signature") {
		t.Errorf("type %q message %q", typ, msg)
	}
	g.stop(t)
	if !failureLogNames(g.logs.String(), "InvalidSignatureException", `"deployment":"bedrock-claude#1"`) {
		t.Errorf("no log line of the failed request names the deployment whose credentials failed:\n%s", g.logs)
	}
}

// After the first byte, a Bedrock failure becomes an SSE error event the
// SDK raises, and the stream ends.
func TestStreamFailsMidway(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)
	client := g.client()

	for _, kind := range []string{emulator.FaultStreamException, emulator.FaultStreamBroken} {
		t.Run(kind, func(t *testing.T) {
			em.Fault(emulator.Fault{Kind: kind, AfterEvents: 3, Exception: "throttlingException", Message: "Too many tokens mid-stream"})
			s := client.Chat.Completions.NewStreaming(ctxTimeout(t), openai.ChatCompletionNewParams{
				Model:    "bedrock-claude",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("one two three four five six")},
			})
			var text strings.Builder
			for s.Next() {
				if c := s.Current(); len(c.Choices) > 0 {
					text.WriteString(c.Choices[0].Delta.Content)
				}
			}
			err := s.Err()
			if err == nil {
				t.Fatalf("the stream ended without an error after %q", text.String())
			}
			if text.Len() == 0 {
				t.Errorf("no content arrived before the failure")
			}
			if kind == emulator.FaultStreamException && !strings.Contains(err.Error(), "Too many tokens mid-stream") {
				t.Errorf("error %v lacks Bedrock's message", err)
			}
		})
	}
}

// A client that goes away cancels the Bedrock call.
func TestClientDisconnectCancelsBedrock(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)
	em.Fault(emulator.Fault{Kind: emulator.FaultStreamStall, AfterEvents: 2, Delay: time.Minute})

	ctx, cancel := context.WithCancel(context.Background())
	client := g.client()
	s := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:    "bedrock-claude",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hang on")},
	})
	if !s.Next() {
		t.Fatalf("no first chunk: %v", s.Err())
	}
	cancel()
	for s.Next() {
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(g.logs.String(), "client closed the stream") {
		if time.Now().After(deadline) {
			t.Fatal("the gateway did not notice the client leaving")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Secrets given to the gateway never appear in anything it printed.
func TestSecretsNeverLogged(t *testing.T) {
	_, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)
	g.post(t, "/chat/completions", `{"model":"bedrock-claude","messages":[{"role":"user","content":"hi"}]}`)
	g.post(t, "/chat/completions", `{"model":"bedrock-claude","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	g.stop(t)
	if strings.Contains(g.logs.String(), testSecretKey) {
		t.Fatal("the secret access key appears in the gateway's output")
	}
}

// failureLogNames reports whether the log of the request that failed with
// reason has a line containing want.
func failureLogNames(logs, reason, want string) bool {
	var requestID string
	lines := strings.Split(logs, "\n")
	for _, line := range lines {
		if strings.Contains(line, `"msg":"request failed"`) && strings.Contains(line, reason) {
			var rec struct {
				RequestID string `json:"request_id"`
			}
			_ = json.Unmarshal([]byte(line), &rec)
			requestID = rec.RequestID
		}
	}
	if requestID == "" {
		return false
	}
	for _, line := range lines {
		if strings.Contains(line, `"request_id":"`+requestID+`"`) && strings.Contains(line, want) {
			return true
		}
	}
	return false
}

// Embeddings and images go through the router like chat: per-request
// routing keys apply (never reaching Bedrock), the served deployment is in
// the headers and the request's log line.
func TestEmbeddingsRouted(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	cfg := fmt.Sprintf(`model_list:
  - model_name: emb-a
    litellm_params: {model: bedrock/amazon.titan-embed-text-v1, aws_bedrock_runtime_endpoint: %[1]s, aws_region_name: %[2]s, aws_access_key_id: %[3]s, aws_secret_access_key: os.environ/SECRET}
  - model_name: emb-b
    litellm_params: {model: bedrock/amazon.titan-embed-text-v2:0, aws_bedrock_runtime_endpoint: %[1]s, aws_region_name: %[2]s, aws_access_key_id: %[3]s, aws_secret_access_key: os.environ/SECRET}
`, endpoint, testRegion, testAccessKey)
	g := startGateway(t, cfg, "SECRET="+testSecretKey)
	em.Fault(emulator.Fault{Model: "amazon.titan-embed-text-v1", Kind: emulator.FaultUnavailable})

	status, raw, hdr := g.post(t, "/embeddings", `{"model":"emb-a","input":"hello","fallbacks":["emb-b"],"num_retries":0}`)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, raw)
	}
	if hdr.Get("X-Strata-Model-Group") != "emb-b" || hdr.Get("X-Strata-Attempted-Fallbacks") != "1" {
		t.Errorf("served by %q after %q fallbacks", hdr.Get("X-Strata-Model-Group"), hdr.Get("X-Strata-Attempted-Fallbacks"))
	}
	for _, c := range em.Calls() {
		if strings.Contains(string(c.Body), "fallbacks") || strings.Contains(string(c.Body), "num_retries") {
			t.Errorf("routing keys reached Bedrock: %s", c.Body)
		}
	}
	g.stop(t)
	if !strings.Contains(g.logs.String(), `"msg":"request","request_id"`) || !strings.Contains(g.logs.String(), `"deployment":"emb-b#1"`) {
		t.Errorf("the request log line does not name the deployment:\n%s", g.logs)
	}
}
