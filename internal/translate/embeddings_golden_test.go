package translate_test

import (
	"encoding/json"
	"testing"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/translate"
)

// A golden case under testdata/embeddings: target.json ({"model",
// "defaults"}), openai.request.json, and bedrock.answers.json (a list:
// one {"body", "input_tokens"} per call). Expected: bedrock.bodies.json
// (one native body per call) or error.json, openai.response.json.
func TestGoldenEmbeddings(t *testing.T) {
	runGolden(t, "testdata/embeddings", runEmbeddingsCase)
}

func runEmbeddingsCase(t *testing.T, c *goldenCase) {
	targets := targetsFor(t, c)
	if targets == nil {
		return
	}
	if targets.Embed == nil {
		t.Fatalf("%s is not an embedding model", targets.Family.Name)
	}
	var req openai.EmbeddingRequest
	if err := json.Unmarshal([]byte(c.sections["openai.request.json"]), &req); err != nil {
		t.Fatalf("openai.request.json: %v", err)
	}
	plan, err := translate.EmbedFromRequest(&req, targets.Embed)
	if err != nil {
		expectClientError(t, c, err)
		return
	}
	bodies := make([]json.RawMessage, len(plan.Calls))
	for i, call := range plan.Calls {
		bodies[i] = call.Body
	}
	c.expect(t, "bedrock.bodies.json", indentJSON(t, bodies))
	s, ok := c.sections["bedrock.answers.json"]
	if !ok {
		return
	}
	var answers []struct {
		Body        json.RawMessage `json:"body"`
		InputTokens int             `json:"input_tokens"`
	}
	if err := json.Unmarshal([]byte(s), &answers); err != nil || len(answers) != len(plan.Calls) {
		t.Fatalf("bedrock.answers.json: want %d answers: %v", len(plan.Calls), err)
	}
	var vectors [][]float32
	tokens := 0
	for i, call := range plan.Calls {
		v, n, err := translate.VectorsFromInvoke(targets.Embed, call, &bedrock.InvokeResponse{Body: answers[i].Body, InputTokens: answers[i].InputTokens})
		if err != nil {
			t.Fatalf("VectorsFromInvoke: %v", err)
		}
		vectors = append(vectors, v...)
		tokens += n
	}
	c.expect(t, "openai.response.json", indentJSON(t, translate.EmbeddingsResponse(plan, vectors, tokens, targets.Embed.Model)))
}
