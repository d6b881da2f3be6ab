package bedrock_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/strata-gateway/strata/internal/bedrock"
)

// Rerank goes to the agent runtime beside the runtime endpoint, names the
// model by its ARN in the client's partition, and follows nextToken until
// Bedrock has sent every page.
func TestRerankEndpointARNAndPages(t *testing.T) {
	for _, c := range []struct{ region, runtime, agent, arn string }{
		{"us-east-1", "", "https://bedrock-agent-runtime.us-east-1.amazonaws.com", "arn:aws:bedrock:us-east-1::foundation-model/m"},
		{"us-gov-west-1", "https://bedrock-runtime-fips.us-gov-west-1.amazonaws.com", "https://bedrock-agent-runtime-fips.us-gov-west-1.amazonaws.com", "arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/m"},
		{"cn-north-1", "https://proxy.example:8443/aws", "https://proxy.example:8443/aws", "arn:aws-cn:bedrock:cn-north-1::foundation-model/m"},
	} {
		cl, err := bedrock.NewClient(bedrock.ClientOptions{Region: c.region, Endpoint: c.runtime, Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
		if err != nil {
			t.Fatal(err)
		}
		if cl.AgentEndpoint() != c.agent || cl.FoundationModelARN("m") != c.arn {
			t.Errorf("%s %q: agent endpoint %q, ARN %q; want %q, %q", c.region, c.runtime, cl.AgentEndpoint(), cl.FoundationModelARN("m"), c.agent, c.arn)
		}
		if arn := "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc"; cl.FoundationModelARN(arn) != arn {
			t.Errorf("an ARN was rewritten: %q", cl.FoundationModelARN(arn))
		}
	}

	var tokens []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req bedrock.RerankRequest
		raw, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/rerank" || json.Unmarshal(raw, &req) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		tokens = append(tokens, req.NextToken)
		next := ""
		if len(tokens) < 3 {
			next = fmt.Sprintf("page-%d", len(tokens)+1)
		}
		_ = json.NewEncoder(w).Encode(bedrock.RerankResponse{Results: []bedrock.RerankResult{{Index: len(tokens) - 1, RelevanceScore: 1 / float64(len(tokens))}}, NextToken: next})
	}))
	defer srv.Close()
	cl, err := bedrock.NewClient(bedrock.ClientOptions{Region: "us-east-1", Endpoint: srv.URL, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := cl.Rerank(context.Background(), &bedrock.RerankRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Results) != 3 || out.Results[2].Index != 2 || out.NextToken != "" || fmt.Sprint(tokens) != "[ page-2 page-3]" {
		t.Errorf("pages: results %+v, tokens sent %q", out.Results, tokens)
	}
}
