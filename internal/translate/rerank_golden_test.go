package translate_test

import (
	"encoding/json"
	"testing"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/translate"
)

// A golden case under testdata/rerank: target.json ({"model", "defaults"}),
// openai.request.json (Cohere's rerank body) and bedrock.response.json.
// Expected: bedrock.request.json or error.json, openai.response.json. The
// model ARN is built for us-east-1.
func TestGoldenRerank(t *testing.T) {
	runGolden(t, "testdata/rerank", runRerankCase)
}

func runRerankCase(t *testing.T, c *goldenCase) {
	targets := targetsFor(t, c)
	if targets == nil {
		return
	}
	if targets.Rerank == nil {
		t.Fatalf("%s is not a rerank model", targets.Family.Name)
	}
	var gt goldenTarget
	if err := json.Unmarshal([]byte(c.sections["target.json"]), &gt); err != nil {
		t.Fatal(err)
	}
	var req openai.RerankRequest
	if err := json.Unmarshal([]byte(c.sections["openai.request.json"]), &req); err != nil {
		t.Fatalf("openai.request.json: %v", err)
	}
	in, err := translate.RerankFromRequest(&req, targets.Rerank, "arn:aws:bedrock:us-east-1::foundation-model/"+gt.Model)
	if err != nil {
		expectClientError(t, c, err)
		return
	}
	c.expect(t, "bedrock.request.json", indentJSON(t, in))
	s, ok := c.sections["bedrock.response.json"]
	if !ok {
		return
	}
	var resp bedrock.RerankResponse
	if err := json.Unmarshal([]byte(s), &resp); err != nil {
		t.Fatalf("bedrock.response.json: %v", err)
	}
	out, err := translate.RerankResponse(&req, &resp, "rerank-test")
	if err != nil {
		expectClientError(t, c, err)
		return
	}
	c.expect(t, "openai.response.json", indentJSON(t, out))
}
