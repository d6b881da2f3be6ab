package emulator

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

const testModel = "anthropic.claude-3-haiku-20240307-v1:0"

// startEmulator serves a fresh emulator that knows the demo key, over a real socket.
func startEmulator(t *testing.T, opts Options) (*Emulator, *httptest.Server) {
	t.Helper()
	if opts.Keys == nil {
		opts.Keys = DemoKeys()
	}
	emu := New(opts)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return emu, srv
}

// sdkClient is the official AWS SDK client pointed at the emulator, with retries
// off so each fault is seen exactly once.
func sdkClient(srv *httptest.Server, keyID, secret string) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{
		Region:       DemoRegion,
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   &http.Client{Transport: bufferedBodyTransport{srv.Client().Transport}},
	})
}

// bufferedBodyTransport hands net/http the request body as bytes. The SDK closes
// its own body as soon as the response headers arrive, while net/http may still
// be reading that body to confirm its end; on loopback a streaming answer starts
// fast enough to lose that race now and then, and net/http then drops the
// connection mid-stream. Over a real network the answer never comes that fast.
type bufferedBodyTransport struct{ next http.RoundTripper }

func (t bufferedBodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			return nil, err
		}
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	return t.next.RoundTrip(r)
}

func userText(text string) []types.Message {
	return []types.Message{{
		Role:    types.ConversationRoleUser,
		Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: text}},
	}}
}

func TestSDKConverse(t *testing.T) {
	emu, srv := startEmulator(t, Options{Region: DemoRegion})
	client := sdkClient(srv, DemoAccessKeyID, DemoSecretAccessKey)

	out, err := client.Converse(context.Background(), &bedrockruntime.ConverseInput{
		ModelId:  aws.String(testModel),
		System:   []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "be brief"}},
		Messages: userText("hello there world"),
	})
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	msg := out.Output.(*types.ConverseOutputMemberMessage).Value
	if got := msg.Content[0].(*types.ContentBlockMemberText).Value; got != "echo: hello there world" {
		t.Errorf("text = %q", got)
	}
	if out.StopReason != types.StopReasonEndTurn {
		t.Errorf("stopReason = %q", out.StopReason)
	}
	if u := out.Usage; *u.InputTokens != 5 || *u.OutputTokens != 4 || *u.TotalTokens != 9 {
		t.Errorf("usage = %d/%d/%d, want 5/4/9", *u.InputTokens, *u.OutputTokens, *u.TotalTokens)
	}
	if out.Metrics == nil || *out.Metrics.LatencyMs < 1 {
		t.Errorf("metrics.latencyMs missing: %+v", out.Metrics)
	}

	calls := emu.Calls()
	if len(calls) != 1 {
		t.Fatalf("calls = %d, want 1", len(calls))
	}
	c := calls[0]
	if c.Operation != "Converse" || c.ModelID != testModel || c.Status != http.StatusOK {
		t.Errorf("call = %s %q status %d", c.Operation, c.ModelID, c.Status)
	}
	if !strings.Contains(c.RawPath, "%3A0") {
		t.Errorf("raw path %q: the SDK should have escaped ':'", c.RawPath)
	}
	if c.AccessKeyID != DemoAccessKeyID || c.Region != DemoRegion {
		t.Errorf("signer = %q in %q", c.AccessKeyID, c.Region)
	}
	if c.Converse == nil || *c.Converse.System[0].Text != "be brief" {
		t.Errorf("parsed body = %+v", c.Converse)
	}
}

func TestSDKConverseStream(t *testing.T) {
	_, srv := startEmulator(t, Options{})
	client := sdkClient(srv, DemoAccessKeyID, DemoSecretAccessKey)

	out, err := client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
		ModelId:  aws.String(testModel),
		Messages: userText("stream  these words"),
	})
	if err != nil {
		t.Fatalf("ConverseStream: %v", err)
	}
	stream := out.GetStream()
	defer stream.Close()
	var text strings.Builder
	var kinds []string
	var stopReason types.StopReason
	var usage *types.TokenUsage
	for ev := range stream.Events() {
		switch v := ev.(type) {
		case *types.ConverseStreamOutputMemberMessageStart:
			kinds = append(kinds, "start:"+string(v.Value.Role))
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			kinds = append(kinds, "delta")
			text.WriteString(v.Value.Delta.(*types.ContentBlockDeltaMemberText).Value)
		case *types.ConverseStreamOutputMemberContentBlockStop:
			kinds = append(kinds, "stop")
		case *types.ConverseStreamOutputMemberMessageStop:
			kinds = append(kinds, "messageStop")
			stopReason = v.Value.StopReason
		case *types.ConverseStreamOutputMemberMetadata:
			kinds = append(kinds, "metadata")
			usage = v.Value.Usage
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	want := "start:assistant delta delta delta delta stop messageStop metadata"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("events = %s\nwant     %s", got, want)
	}
	if text.String() != "echo: stream  these words" {
		t.Errorf("deltas joined = %q", text.String())
	}
	if stopReason != types.StopReasonEndTurn || usage == nil || *usage.OutputTokens != 4 {
		t.Errorf("stopReason %q usage %+v", stopReason, usage)
	}
}

func TestSDKModelIDsAreDecoded(t *testing.T) {
	ids := []string{
		"anthropic.claude-3-5-sonnet-20240620-v1:0",
		"us.anthropic.claude-3-7-sonnet-20250219-v1:0",
		"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0",
		"arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
	}
	emu, srv := startEmulator(t, Options{})
	client := sdkClient(srv, DemoAccessKeyID, DemoSecretAccessKey)
	for _, id := range ids {
		if _, err := client.Converse(context.Background(), &bedrockruntime.ConverseInput{
			ModelId: aws.String(id), Messages: userText("hi"),
		}); err != nil {
			t.Errorf("Converse %s: %v", id, err)
		}
	}
	calls := emu.Calls()
	for i, id := range ids {
		if calls[i].ModelID != id {
			t.Errorf("call %d model = %q, want %q (raw path %q)", i, calls[i].ModelID, id, calls[i].RawPath)
		}
	}
}

func TestSDKWrongSecretIsInvalidSignature(t *testing.T) {
	emu, srv := startEmulator(t, Options{})
	client := sdkClient(srv, DemoAccessKeyID, "not-the-secret")

	_, err := client.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(testModel), Messages: userText("hi")})
	assertAPIError(t, err, http.StatusForbidden, "InvalidSignatureException")
	if got := emu.Calls()[0].Error; !strings.Contains(got, "signature we calculated does not match") {
		t.Errorf("recorded reason = %q", got)
	}
}

func TestSDKUnknownKeyIsUnrecognizedClient(t *testing.T) {
	_, srv := startEmulator(t, Options{})
	client := sdkClient(srv, "AKIAUNKNOWNKEY000000", DemoSecretAccessKey)

	_, err := client.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(testModel), Messages: userText("hi")})
	assertAPIError(t, err, http.StatusForbidden, "UnrecognizedClientException")
}

func TestSDKSessionToken(t *testing.T) {
	_, srv := startEmulator(t, Options{Keys: map[string]Key{"ASIATEMP": {Secret: "s3cret", SessionToken: "token-1"}}})
	withToken := func(token string) *bedrockruntime.Client {
		c := sdkClient(srv, "ASIATEMP", "s3cret")
		return bedrockruntime.New(c.Options(), func(o *bedrockruntime.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider("ASIATEMP", "s3cret", token)
		})
	}
	in := &bedrockruntime.ConverseInput{ModelId: aws.String(testModel), Messages: userText("hi")}
	if _, err := withToken("token-1").Converse(context.Background(), in); err != nil {
		t.Fatalf("right token: %v", err)
	}
	_, err := withToken("token-2").Converse(context.Background(), in)
	assertAPIError(t, err, http.StatusForbidden, "UnrecognizedClientException")
}

func TestSDKThrottlingFault(t *testing.T) {
	emu, srv := startEmulator(t, Options{})
	emu.Fault(Fault{Kind: FaultThrottling})
	client := sdkClient(srv, DemoAccessKeyID, DemoSecretAccessKey)

	_, err := client.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(testModel), Messages: userText("hi")})
	var throttled *types.ThrottlingException
	if !errors.As(err, &throttled) {
		t.Fatalf("err = %v, want *types.ThrottlingException", err)
	}
	if throttled.ErrorMessage() != "Too many requests, please wait before trying again." {
		t.Errorf("message = %q", throttled.ErrorMessage())
	}
	// The fault hit once; the next call succeeds.
	if _, err := client.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(testModel), Messages: userText("hi")}); err != nil {
		t.Errorf("second call: %v", err)
	}
}

func TestSDKStreamException(t *testing.T) {
	for _, tc := range []struct {
		exception string
		check     func(error) bool
	}{
		{"", func(err error) bool { var e *types.ModelStreamErrorException; return errors.As(err, &e) }},
		{"ThrottlingException", func(err error) bool { var e *types.ThrottlingException; return errors.As(err, &e) }},
	} {
		t.Run(tc.exception, func(t *testing.T) {
			emu, srv := startEmulator(t, Options{})
			emu.Fault(Fault{Kind: FaultStreamException, AfterEvents: 2, Exception: tc.exception})
			client := sdkClient(srv, DemoAccessKeyID, DemoSecretAccessKey)

			out, err := client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
				ModelId: aws.String(testModel), Messages: userText("one two three"),
			})
			if err != nil {
				t.Fatalf("ConverseStream: %v", err)
			}
			stream := out.GetStream()
			defer stream.Close()
			events := 0
			for range stream.Events() {
				events++
			}
			if events != 2 {
				t.Errorf("events before the exception = %d, want 2", events)
			}
			if err := stream.Err(); !tc.check(err) {
				t.Errorf("stream err = %v (%T)", err, err)
			}
		})
	}
}

// assertAPIError checks what the SDK reports: the exception name and HTTP status.
func assertAPIError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want an API error %s", err, code)
	}
	if apiErr.ErrorCode() != code {
		t.Errorf("code = %q, want %q (%v)", apiErr.ErrorCode(), code, err)
	}
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() != status {
		t.Errorf("status = %d, want %d", respErr.HTTPStatusCode(), status)
	}
}

// CountTokens as the AWS SDK sends it: an InvokeModel body (a blob) or a
// Converse request, answered with inputTokens.
func TestSDKCountTokens(t *testing.T) {
	emu, srv := startEmulator(t, Options{Region: DemoRegion})
	client := sdkClient(srv, DemoAccessKeyID, DemoSecretAccessKey)
	ctx := context.Background()

	out, err := client.CountTokens(ctx, &bedrockruntime.CountTokensInput{
		ModelId: aws.String(testModel),
		Input: &types.CountTokensInputMemberInvokeModel{Value: types.InvokeModelTokensRequest{
			Body: []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"system":"be brief","messages":[{"role":"user","content":"count these four"}]}`),
		}},
	})
	if err != nil {
		t.Fatalf("CountTokens (invokeModel): %v", err)
	}
	if got := aws.ToInt32(out.InputTokens); got != 5 {
		t.Errorf("inputTokens = %d, want 5 (the words of system and messages)", got)
	}
	out, err = client.CountTokens(ctx, &bedrockruntime.CountTokensInput{
		ModelId: aws.String(testModel),
		Input: &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{
			Messages: userText("one two three"),
		}},
	})
	if err != nil {
		t.Fatalf("CountTokens (converse): %v", err)
	}
	if got := aws.ToInt32(out.InputTokens); got != 3 {
		t.Errorf("inputTokens = %d, want 3", got)
	}
	if calls := emu.Calls(); len(calls) != 2 || calls[0].Operation != "CountTokens" || calls[0].Status != http.StatusOK {
		t.Errorf("calls: %+v", calls)
	}

	_, err = client.CountTokens(ctx, &bedrockruntime.CountTokensInput{
		ModelId: aws.String(testModel),
		Input: &types.CountTokensInputMemberInvokeModel{Value: types.InvokeModelTokensRequest{
			Body: []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":"x"}],"stream":true}`),
		}},
	})
	var ve *types.ValidationException
	if !errors.As(err, &ve) || !strings.Contains(ve.ErrorMessage(), "extraneous key [stream]") {
		t.Errorf("a body InvokeModel would refuse: %v", err)
	}
}
