package bedrock_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/emulator"
)

const testAPIKey = "ABSKQmVkcm9ja0FQSUtleS10ZXN0LWtleS1kby1ub3QtbG9n"

// Every operation the gateway uses carries the API key as a bearer token,
// never a SigV4 signature; the emulator refuses any other key as Bedrock does.
func TestAPIKeyOnEveryOperation(t *testing.T) {
	em := emulator.New(emulator.Options{APIKeys: []string{testAPIKey}, Region: stsRegion})
	srv := httptest.NewServer(em)
	defer srv.Close()
	ctx := context.Background()
	client := func(key string) *bedrock.Client {
		c, err := bedrock.NewClient(bedrock.ClientOptions{Region: stsRegion, Endpoint: srv.URL, APIKey: key})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	good := client(testAPIKey)
	if !good.UsesAPIKey() {
		t.Fatal("UsesAPIKey is false for a client built with an API key")
	}
	hello := "hello"
	converse := &bedrock.ConverseRequest{Messages: []bedrock.Message{{Role: "user", Content: []bedrock.ContentBlock{{Text: &hello}}}}}
	invokeBody := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":20,"messages":[{"role":"user","content":"hello"}]}`)
	ops := map[string]func(c *bedrock.Client) error{
		"Converse": func(c *bedrock.Client) error { _, err := c.Converse(ctx, stsModel, converse); return err },
		"ConverseStream": func(c *bedrock.Client) error {
			s, err := c.ConverseStream(ctx, stsModel, converse)
			if err != nil {
				return err
			}
			defer s.Close()
			var ev bedrock.StreamEvent
			for {
				if err := s.Next(&ev); err != nil {
					if errors.Is(err, io.EOF) {
						return nil
					}
					return err
				}
			}
		},
		"InvokeModel": func(c *bedrock.Client) error { _, err := c.Invoke(ctx, stsModel, invokeBody); return err },
		"InvokeModelWithResponseStream": func(c *bedrock.Client) error {
			s, err := c.InvokeStream(ctx, stsModel, invokeBody)
			if err != nil {
				return err
			}
			defer s.Close()
			for {
				if _, err := s.Next(); err != nil {
					if errors.Is(err, io.EOF) {
						return nil
					}
					return err
				}
			}
		},
		"Rerank": func(c *bedrock.Client) error {
			_, err := c.Rerank(ctx, &bedrock.RerankRequest{
				Queries: []bedrock.RerankQuery{{Type: bedrock.RerankQueryText, TextQuery: bedrock.RerankText{Text: "q"}}},
				RerankingConfiguration: bedrock.RerankingConfiguration{Type: bedrock.RerankingBedrockModel,
					BedrockRerankingConfiguration: bedrock.BedrockRerankingConfiguration{ModelConfiguration: bedrock.RerankModelConfiguration{ModelArn: c.FoundationModelARN("amazon.rerank-v1:0")}}},
				Sources: []bedrock.RerankSource{{Type: bedrock.RerankSourceInline, InlineDocumentSource: bedrock.RerankDocument{Type: bedrock.RerankDocumentText, TextDocument: &bedrock.RerankText{Text: "a"}}}},
			})
			return err
		},
		"CountTokens": func(c *bedrock.Client) error {
			_, err := c.CountTokens(ctx, stsModel, &bedrock.CountTokensRequest{Input: bedrock.CountTokensInput{InvokeModel: &bedrock.InvokeModelTokens{Body: invokeBody}}})
			return err
		},
		"Forward": func(c *bedrock.Client) error {
			// The client's own Authorization header stays behind.
			resp, err := c.Forward(ctx, stsModel, "converse", http.Header{"Authorization": {"Bearer sk-gateway-key"}}, []byte(`{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				return bedrock.APIErrorOf(resp.StatusCode, resp.Header, raw)
			}
			return nil
		},
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			if err := op(good); err != nil {
				t.Fatalf("with the right key: %v", err)
			}
			call := em.Calls()[len(em.Calls())-1]
			if call.AuthScheme != "bearer" || call.Header.Get("Authorization") != "Bearer "+testAPIKey {
				t.Errorf("auth reaching Bedrock = %q (%q), want the bearer key", call.AuthScheme, call.Header.Get("Authorization"))
			}
			if call.Header.Get("X-Amz-Date") != "" || call.Header.Get("X-Amz-Security-Token") != "" {
				t.Errorf("SigV4 headers sent beside the API key: %v", call.Header)
			}
			err := op(client("ABSKbm90LXRoZS1yaWdodC1rZXk="))
			var apiErr *bedrock.APIError
			if !errors.As(err, &apiErr) || apiErr.Status != http.StatusForbidden || apiErr.Code != "AccessDeniedException" ||
				apiErr.Message != "Authentication failed: Please make sure your API Key is valid." {
				t.Fatalf("with a wrong key: %v, want Bedrock's 403 AccessDeniedException", err)
			}
			if strings.Contains(err.Error(), "ABSK") {
				t.Errorf("the error quotes the key: %v", err)
			}
		})
	}
}

func TestAPIKeyNeverPrinted(t *testing.T) {
	c, err := bedrock.NewClient(bedrock.ClientOptions{Region: stsRegion, APIKey: testAPIKey})
	if err != nil {
		t.Fatal(err)
	}
	auth := bedrock.Auth{APIKey: testAPIKey, Region: stsRegion}
	for _, s := range []string{fmt.Sprintf("%v %+v %#v", c, c, c), fmt.Sprintf("%v %+v %#v %s", auth, auth, auth, auth)} {
		if strings.Contains(s, testAPIKey) {
			t.Errorf("printed the key: %s", s)
		}
	}
}

// The key is decided once: the entry's own api_key wins; the environment's
// only applies to entries naming no AWS credentials of their own.
func TestWithAPIKeyFromEnv(t *testing.T) {
	env := func(string) string { return "ABSKZW52LWtleQ==" }
	none := func(string) string { return "" }
	cases := []struct {
		name      string
		auth      bedrock.Auth
		getenv    func(string) string
		key, from string
	}{
		{"api_key", bedrock.Auth{APIKey: "ABSKb3du"}, env, "ABSKb3du", "api_key"},
		{"environment, no credentials", bedrock.Auth{Region: "us-east-1"}, env, "ABSKZW52LWtleQ==", "AWS_BEARER_TOKEN_BEDROCK"},
		{"environment, static keys", bedrock.Auth{AccessKeyID: "AKIA", SecretAccessKey: "s"}, env, "", ""},
		{"environment, profile", bedrock.Auth{Profile: "dev"}, env, "", ""},
		{"environment, role", bedrock.Auth{RoleARN: stsRole}, env, "", ""},
		{"nothing", bedrock.Auth{}, none, "", ""},
	}
	for _, tc := range cases {
		got, from := tc.auth.WithAPIKeyFromEnv(tc.getenv)
		if got.APIKey != tc.key || from != tc.from {
			t.Errorf("%s: key %q from %q, want %q from %q", tc.name, got.APIKey, from, tc.key, tc.from)
		}
	}
}
