package bedrock_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/emulator"
)

// InvokeModel's service tier and latency profile go as headers; the
// emulator answers with the ones served and refuses values outside the
// enums with Coral's ValidationException.
func TestInvokeTierHeaders(t *testing.T) {
	em := emulator.New(emulator.Options{APIKeys: []string{testAPIKey}})
	srv := httptest.NewServer(em)
	defer srv.Close()
	cl, err := bedrock.NewClient(bedrock.ClientOptions{Region: "us-east-1", Endpoint: srv.URL, APIKey: testAPIKey})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"prompt":"hello","max_gen_len":8}`)
	const model = "meta.llama3-8b-instruct-v1:0"
	resp, err := cl.InvokeWith(context.Background(), model, body, bedrock.InvokeOptions{ServiceTier: "flex", Latency: "optimized"})
	if err != nil {
		t.Fatal(err)
	}
	call := em.Calls()[0]
	if call.Header.Get(bedrock.HeaderServiceTier) != "flex" || call.Header.Get(bedrock.HeaderLatency) != "optimized" ||
		resp.ServiceTier != "flex" || resp.Latency != "optimized" {
		t.Errorf("sent %q/%q, served %q/%q", call.Header.Get(bedrock.HeaderServiceTier), call.Header.Get(bedrock.HeaderLatency), resp.ServiceTier, resp.Latency)
	}
	s, err := cl.InvokeStreamWith(context.Background(), model, body, bedrock.InvokeOptions{ServiceTier: "priority"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s.ServiceTier != "priority" || s.Latency != "" {
		t.Errorf("stream served %q/%q, want priority and none", s.ServiceTier, s.Latency)
	}
	_, err = cl.InvokeWith(context.Background(), model, body, bedrock.InvokeOptions{ServiceTier: "ultra", Latency: "fastest"})
	var apiErr *bedrock.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || apiErr.Code != "ValidationException" ||
		apiErr.Message != "2 validation errors detected: Value 'ultra' at 'serviceTier' failed to satisfy constraint: Member must satisfy enum value set: [priority, default, flex, reserved]; "+
			"Value 'fastest' at 'performanceConfigLatency' failed to satisfy constraint: Member must satisfy enum value set: [standard, optimized]" {
		t.Errorf("bad values: %v", err)
	}
}
