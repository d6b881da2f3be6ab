package translate_test

import (
	"encoding/json"
	"testing"

	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/translate"
)

// A golden case under testdata/images: target.json ({"model", "defaults"}),
// openai.request.json, and bedrock.answers.json (one native answer per
// call). Expected: bedrock.bodies.json (one native body per call) or
// error.json, dropped.json, openai.response.json.
func TestGoldenImages(t *testing.T) {
	runGolden(t, "testdata/images", runImagesCase)
}

func runImagesCase(t *testing.T, c *goldenCase) {
	targets := targetsFor(t, c)
	if targets == nil {
		return
	}
	if targets.Image == nil {
		t.Fatalf("%s is not an image model", targets.Family.Name)
	}
	var req openai.ImageRequest
	if err := json.Unmarshal([]byte(c.sections["openai.request.json"]), &req); err != nil {
		t.Fatalf("openai.request.json: %v", err)
	}
	plan, err := translate.ImagesFromRequest(&req, targets.Image)
	if err != nil {
		expectClientError(t, c, err)
		return
	}
	bodies := make([]json.RawMessage, len(plan.Bodies))
	for i, b := range plan.Bodies {
		bodies[i] = b
	}
	c.expect(t, "bedrock.bodies.json", indentJSON(t, bodies))
	if len(plan.Dropped) > 0 {
		c.expect(t, "dropped.json", indentJSON(t, plan.Dropped))
	}
	s, ok := c.sections["bedrock.answers.json"]
	if !ok {
		return
	}
	var answers []json.RawMessage
	if err := json.Unmarshal([]byte(s), &answers); err != nil || len(answers) != len(plan.Bodies) {
		t.Fatalf("bedrock.answers.json: want %d answers: %v", len(plan.Bodies), err)
	}
	var images []string
	for _, a := range answers {
		got, err := translate.ImagesFromInvoke(targets.Image, a)
		if err != nil {
			expectClientError(t, c, err)
			return
		}
		images = append(images, got...)
	}
	c.expect(t, "openai.response.json", indentJSON(t, translate.ImagesResponse(images, 1700000000)))
}
