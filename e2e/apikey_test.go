package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/openai/openai-go/v3"

	"github.com/strata-gateway/strata/internal/emulator"
)

// Bedrock API keys for the emulator; neither may show up in the gateway's output.
const (
	testBedrockAPIKey = "ABSKQmVkcm9ja0FQSUtleS1lMmUtY29uZmlnLWtleQ=="
	testEnvAPIKey     = "ABSKQmVkcm9ja0FQSUtleS1lMmUtZW52aXJvbm1lbnQ="
)

func apiKeyEmulator(t *testing.T) (*emulator.Emulator, string) {
	t.Helper()
	em := emulator.New(emulator.Options{
		Keys:    map[string]emulator.Key{testAccessKey: {Secret: testSecretKey}},
		APIKeys: []string{testBedrockAPIKey, testEnvAPIKey},
		Region:  testRegion,
	})
	srv := httptest.NewServer(em)
	t.Cleanup(srv.Close)
	return em, srv.URL
}

// A model entry with api_key calls Bedrock with "Authorization: Bearer",
// chat, streams and the pass-through alike; a wrong key is Bedrock's 403,
// and the key is never printed.
func TestBedrockAPIKeyFromConfig(t *testing.T) {
	em, endpoint := apiKeyEmulator(t)
	g := startGateway(t, fmt.Sprintf(`model_list:
  - model_name: keyed
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
      api_key: os.environ/MY_BEDROCK_API_KEY
      aws_region_name: %[2]s
      aws_bedrock_runtime_endpoint: %[1]s
  - model_name: wrong-key
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
      api_key: ABSKbm90LWEta2V5LXRoZS1lbXVsYXRvci1rbm93cw==
      aws_region_name: %[2]s
      aws_bedrock_runtime_endpoint: %[1]s
`, endpoint, testRegion), "MY_BEDROCK_API_KEY="+testBedrockAPIKey)
	client := g.client()
	ctx := ctxTimeout(t)
	params := openai.ChatCompletionNewParams{Model: "keyed", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}}

	out, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatalf("chat: %v", err)
	}
	if out.Choices[0].Message.Content != "echo: hello" {
		t.Errorf("answer %q", out.Choices[0].Message.Content)
	}
	assertBearer(t, lastCall(t, em), "Converse", testBedrockAPIKey)

	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var text strings.Builder
	for stream.Next() {
		if c := stream.Current(); len(c.Choices) > 0 {
			text.WriteString(c.Choices[0].Delta.Content)
		}
	}
	if err := stream.Err(); err != nil || text.String() != "echo: hello" {
		t.Fatalf("stream: %q, %v", text.String(), err)
	}
	assertBearer(t, lastCall(t, em), "ConverseStream", testBedrockAPIKey)

	// The pass-through replaces the client's SigV4 with the deployment's key.
	sdk := g.bedrockSDK("")
	if _, err := sdk.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("keyed"),
		Messages: []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hi"}}}}}); err != nil {
		t.Fatalf("pass-through Converse: %v", err)
	}
	assertBearer(t, lastCall(t, em), "Converse", testBedrockAPIKey)

	params.Model = "wrong-key"
	_, err = client.Chat.Completions.New(ctx, params)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden || !strings.Contains(apiErr.Message, "Please make sure your API Key is valid") {
		t.Fatalf("wrong key: %v, want Bedrock's 403", err)
	}
	if call := lastCall(t, em); call.AuthScheme != "bearer" || call.Status != http.StatusForbidden {
		t.Errorf("emulator saw %q, answered %d", call.AuthScheme, call.Status)
	}
	if strings.Contains(apiErr.Message, "ABSK") {
		t.Errorf("the error quotes a key: %s", apiErr.Message)
	}

	g.stop(t)
	logs := g.logs.String()
	for _, secret := range []string{testBedrockAPIKey, "ABSKbm90LWEta2V5LXRoZS1lbXVsYXRvci1rbm93cw=="} {
		if strings.Contains(logs, secret) {
			t.Errorf("a Bedrock API key is in the gateway's output")
		}
	}
	if !strings.Contains(logs, `"deployment":"keyed#1","key_from":"api_key"`) {
		t.Errorf("startup does not say which auth keyed#1 uses:\n%s", logs)
	}
}

// With AWS_BEARER_TOKEN_BEDROCK set, entries without AWS credentials of
// their own call with it; an entry with static keys still signs with SigV4.
func TestBedrockAPIKeyFromEnvironment(t *testing.T) {
	em, endpoint := apiKeyEmulator(t)
	g := startGateway(t, fmt.Sprintf(`model_list:
  - model_name: from-env
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_region_name: %[2]s
      aws_bedrock_runtime_endpoint: %[1]s
  - model_name: signed
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: %[2]s
      aws_bedrock_runtime_endpoint: %[1]s
`, endpoint, testRegion), append(seedEnv, "AWS_BEARER_TOKEN_BEDROCK="+testEnvAPIKey)...)
	client := g.client()
	ctx := ctxTimeout(t)
	for _, model := range []string{"from-env", "signed"} {
		if _, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}}); err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		call := lastCall(t, em)
		if model == "from-env" {
			assertBearer(t, call, "Converse", testEnvAPIKey)
		} else if call.AuthScheme != "sigv4" || call.AccessKeyID != testAccessKey {
			t.Errorf("signed: emulator saw auth %q by %q", call.AuthScheme, call.AccessKeyID)
		}
	}
	g.stop(t)
	logs := g.logs.String()
	if strings.Contains(logs, testEnvAPIKey) {
		t.Errorf("the Bedrock API key is in the gateway's output")
	}
	if !strings.Contains(logs, `"deployment":"from-env#1","key_from":"AWS_BEARER_TOKEN_BEDROCK"`) {
		t.Errorf("startup does not say which auth from-env#1 uses:\n%s", logs)
	}
}

func assertBearer(t *testing.T, call emulator.Call, operation, key string) {
	t.Helper()
	if call.Operation != operation || call.AuthScheme != "bearer" || call.Header.Get("Authorization") != "Bearer "+key || call.Status != http.StatusOK {
		t.Errorf("emulator got %s with auth %q (%d %s), want %s with the bearer key", call.Operation, call.AuthScheme, call.Status, call.Error, operation)
	}
	if call.Header.Get("X-Amz-Date") != "" {
		t.Errorf("%s: a SigV4 signature was sent beside the key", operation)
	}
}
