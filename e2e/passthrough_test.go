package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// bedrockSDK is the AWS SDK for Go's bedrock-runtime client pointed at the
// gateway's /bedrock, signing with credentials the gateway never sees as
// valid, and adding the gateway key as LiteLLM's docs show.
func (g *gateway) bedrockSDK(key string) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{
		Region:       "eu-central-1",
		BaseEndpoint: aws.String(g.URL + "/bedrock"),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIACLIENTOWNKEY0001", "the-clients-own-secret", ""),
		Retryer:      aws.NopRetryer{},
		APIOptions: []func(*middleware.Stack) error{func(s *middleware.Stack) error {
			return s.Build.Add(middleware.BuildMiddlewareFunc("gatewayKey", func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
				if req, ok := in.Request.(*smithyhttp.Request); ok && key != "" {
					req.Header.Set("x-litellm-api-key", key)
				}
				return next.HandleBuild(ctx, in)
			}), middleware.After)
		}},
	})
}

// The AWS SDK's Converse and ConverseStream through the pass-through: the
// body reaches Bedrock as sent, signed again with the deployment's
// credentials and region, and the answer comes back as Bedrock's.
func TestPassthroughSDK(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, messagesConfig(endpoint), seedEnv...)
	client := g.bedrockSDK("")
	ctx := ctxTimeout(t)
	msgs := []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "what llm are you"}}}}

	// By model_name.
	out, err := client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("bedrock-claude"), Messages: msgs,
		System: []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "be brief"}}})
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	text := out.Output.(*types.ConverseOutputMemberMessage).Value.Content[0].(*types.ContentBlockMemberText).Value
	if text != "echo: what llm are you" || aws.ToInt32(out.Usage.OutputTokens) != 5 {
		t.Errorf("answer %q, usage %+v", text, out.Usage)
	}
	call := lastCall(t, em)
	if call.Operation != "Converse" || call.ModelID != "anthropic.claude-3-5-sonnet-20241022-v2:0" ||
		call.AccessKeyID != testAccessKey || call.Region != testRegion || call.Status != http.StatusOK {
		t.Errorf("emulator got %s %q signed by %q for %q: %d %s", call.Operation, call.ModelID, call.AccessKeyID, call.Region, call.Status, call.Error)
	}
	if call.Converse == nil || len(call.Converse.System) != 1 || *call.Converse.System[0].Text != "be brief" {
		t.Errorf("body reached Bedrock as %s", call.Body)
	}
	if auth := call.Header.Get("Authorization"); strings.Contains(auth, "AKIACLIENTOWNKEY0001") {
		t.Errorf("the client's own signature was forwarded: %s", auth)
	}

	// By Bedrock model id, streamed.
	stream, err := client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String("us.anthropic.claude-sonnet-4-5-20250929-v1:0"), Messages: msgs})
	if err != nil {
		t.Fatalf("ConverseStream: %v", err)
	}
	var got strings.Builder
	var usage *types.TokenUsage
	for ev := range stream.GetStream().Events() {
		switch e := ev.(type) {
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			if d, ok := e.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
				got.WriteString(d.Value)
			}
		case *types.ConverseStreamOutputMemberMetadata:
			usage = e.Value.Usage
		}
	}
	if err := stream.GetStream().Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if got.String() != "echo: what llm are you" || usage == nil || aws.ToInt32(usage.OutputTokens) != 5 {
		t.Errorf("streamed %q, usage %+v", got.String(), usage)
	}
	if call := lastCall(t, em); call.Operation != "ConverseStream" || call.ModelID != "us.anthropic.claude-sonnet-4-5-20250929-v1:0" {
		t.Errorf("emulator got %s %q", call.Operation, call.ModelID)
	}
	waitForLog(t, g, `"path":"/bedrock/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/converse-stream"`)

	// InvokeModel with a Claude body, byte for byte.
	body := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":50,"anthropic_beta":["interleaved-thinking-2025-05-14"],` +
		`"system":[{"type":"text","text":"be brief","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"hi there"}]}`
	inv, err := client.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String("bedrock-sonnet-4-5"), Body: []byte(body), ContentType: aws.String("application/json")})
	if err != nil {
		t.Fatalf("InvokeModel: %v", err)
	}
	if !strings.Contains(string(inv.Body), `"text":"echo: hi there"`) {
		t.Errorf("InvokeModel answered %s", inv.Body)
	}
	if call := lastCall(t, em); string(call.Body) != body {
		t.Errorf("the body changed on the way:\n%s\nwant\n%s", call.Body, body)
	}

	// Bedrock's own refusal reaches the SDK as the exception it is.
	_, err = client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("bedrock-claude"), Messages: nil})
	var ve *types.ValidationException
	if !errors.As(err, &ve) {
		t.Errorf("empty messages: %v", err)
	}
	// A model the gateway does not serve.
	_, err = client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("anthropic.claude-v2"), Messages: msgs})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("unknown model: %v", err)
	}
	raw, _ := json.Marshal(err.Error())
	if !strings.Contains(string(raw), "anthropic.claude-v2") {
		t.Errorf("error does not name the model: %s", raw)
	}
}
