package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"

	"github.com/strata-gateway/strata/internal/emulator"
)

// service_tier and performanceConfig, from the request or litellm_params,
// reach Converse as its top-level serviceTier and performanceConfig (never
// additionalModelRequestFields), and the tier Bedrock served comes back as
// OpenAI's service_tier, streamed or not. Unknown values are a 400 naming
// the field.
func TestServiceTierAndLatency(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, fmt.Sprintf(`model_list:
  - model_name: plain
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
      aws_bedrock_runtime_endpoint: %[1]s
  - model_name: flex-fast
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
      aws_bedrock_runtime_endpoint: %[1]s
      service_tier: flex
      performanceConfig:
        latency: optimized
`, endpoint), seedEnv...)
	client := g.client()
	ctx := ctxTimeout(t)
	params := func(model string) openai.ChatCompletionNewParams {
		return openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}}
	}

	// Per request.
	p := params("plain")
	p.ServiceTier = openai.ChatCompletionNewParamsServiceTierPriority
	out, err := client.Chat.Completions.New(ctx, p, option.WithJSONSet("performanceConfig", map[string]string{"latency": "optimized"}))
	if err != nil {
		t.Fatalf("priority: %v", err)
	}
	if out.ServiceTier != openai.ChatCompletionServiceTierPriority {
		t.Errorf("service_tier in the answer = %q, want priority", out.ServiceTier)
	}
	assertTopLevel(t, lastCall(t, em), "priority", "optimized")

	// From litellm_params, streamed: the usage chunk names the tier served.
	p = params("flex-fast")
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: param.NewOpt(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, p)
	var served openai.ChatCompletionChunkServiceTier
	for stream.Next() {
		if c := stream.Current(); c.ServiceTier != "" {
			served = c.ServiceTier
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if served != openai.ChatCompletionChunkServiceTierFlex {
		t.Errorf("service_tier in the stream = %q, want flex", served)
	}
	assertTopLevel(t, lastCall(t, em), "flex", "optimized")

	// "auto" leaves the tier to Bedrock: none is sent.
	p = params("plain")
	p.ServiceTier = openai.ChatCompletionNewParamsServiceTierAuto
	if _, err := client.Chat.Completions.New(ctx, p); err != nil {
		t.Fatalf("auto: %v", err)
	}
	assertTopLevel(t, lastCall(t, em), "", "")

	calls := len(em.Calls())
	for _, bad := range []struct {
		opt   option.RequestOption
		param string
	}{
		{option.WithJSONSet("service_tier", "ultra"), "service_tier"},
		{option.WithJSONSet("performanceConfig", map[string]string{"latency": "fastest"}), "performanceConfig"},
	} {
		_, err := client.Chat.Completions.New(ctx, params("plain"), bad.opt)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || apiErr.Param != bad.param {
			t.Errorf("bad %s: %v, want a 400 naming it", bad.param, err)
		}
	}
	if n := len(em.Calls()); n != calls {
		t.Errorf("a refused request reached Bedrock (%d calls, had %d)", n, calls)
	}
}

// assertTopLevel checks the body Bedrock received: serviceTier and
// performanceConfig at the top level (absent when want is ""), and neither
// inside additionalModelRequestFields.
func assertTopLevel(t *testing.T, call emulator.Call, tier, latency string) {
	t.Helper()
	var body struct {
		ServiceTier       *struct{ Type string }    `json:"serviceTier"`
		PerformanceConfig *struct{ Latency string } `json:"performanceConfig"`
		Additional        json.RawMessage           `json:"additionalModelRequestFields"`
	}
	if err := json.Unmarshal(call.Body, &body); err != nil {
		t.Fatalf("body: %v", err)
	}
	gotTier, gotLatency := "", ""
	if body.ServiceTier != nil {
		gotTier = body.ServiceTier.Type
	}
	if body.PerformanceConfig != nil {
		gotLatency = body.PerformanceConfig.Latency
	}
	if gotTier != tier || gotLatency != latency || call.Status != http.StatusOK {
		t.Errorf("Bedrock got serviceTier %q, performanceConfig %q (status %d), want %q, %q: %s", gotTier, gotLatency, call.Status, tier, latency, call.Body)
	}
	if len(body.Additional) > 0 {
		t.Errorf("additionalModelRequestFields sent: %s", body.Additional)
	}
}
