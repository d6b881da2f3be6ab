package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-gateway/strata/internal/bedrock"
)

// InvokeModel and InvokeModelWithResponseStream take each model family's
// own JSON body. The emulator knows the families Strata serves: it checks a
// body the way Bedrock does (schema first, then the family's own rules) and
// answers deterministically in the family's format: chat echoes the last
// user turn, embeddings are vectors derived from the text, images are real
// PNGs derived from the prompt and seed.

// invokeFamily is how the emulator plays one family of models.
type invokeFamily struct {
	prefix string
	schema func(modelID string) *field
	// stream: InvokeModelWithResponseStream serves the family.
	stream bool
	// check applies the family's rules beyond the schema; nil: none.
	check func(modelID string, body map[string]any) error
	// answer produces the answer to a valid body.
	answer func(e *Emulator, x *exchange, body map[string]any, streaming bool) (invokeAnswer, error)
}

// invokeAnswer is an answer before it is written: a whole body, or a
// stream's native chunks, and the token counts Bedrock reports.
type invokeAnswer struct {
	body          any
	chunks        []map[string]any
	input, output int
}

// invokeFamilies is matched by prefix against the model id without its
// cross-region prefix or ARN path; the first match wins.
var invokeFamilies = []*invokeFamily{
	chatFamily("anthropic.", anthropicChat),
	chatFamily("meta.llama2", llama2Chat),
	chatFamily("meta.llama3", llama3Chat),
	chatFamily("mistral.", mistralChat),
	chatFamily("amazon.titan-text", titanTextChat),
	chatFamily("amazon.titan-tg1", titanTextChat),
	chatFamily("cohere.command-text", cohereCommandChat),
	chatFamily("cohere.command-light-text", cohereCommandChat),
	chatFamily("ai21.j2", jurassicChat),

	{prefix: "amazon.titan-embed-text-v1", schema: titanEmbedV1Schema, answer: titanEmbedAnswer(1536, false)},
	{prefix: "amazon.titan-embed-g1-text", schema: titanEmbedV1Schema, answer: titanEmbedAnswer(1536, false)},
	{prefix: "amazon.titan-embed-text-v2", schema: titanEmbedV2Schema, answer: titanEmbedAnswer(1024, true)},
	{prefix: "amazon.titan-embed-image", schema: titanEmbedImageSchema, check: titanEmbedImageCheck, answer: titanEmbedAnswer(1024, true)},
	{prefix: "cohere.embed-v4", schema: cohereEmbedV4Schema, answer: cohereEmbedAnswer(1536)},
	{prefix: "cohere.embed", schema: cohereEmbedV3Schema, answer: cohereEmbedAnswer(1024)},
	{prefix: "amazon.nova-2-multimodal-embeddings", schema: novaEmbedSchema, answer: novaEmbedAnswer},

	{prefix: "stability.stable-diffusion-xl", schema: sdxlSchema, check: sdxlCheck, answer: sdxlAnswer},
	{prefix: "stability.sd3", schema: stabilityImageSchema, answer: stabilityImageAnswer},
	{prefix: "stability.stable-image-core", schema: stabilityImageSchema, answer: stabilityImageAnswer},
	{prefix: "stability.stable-image-ultra", schema: stabilityImageSchema, answer: stabilityImageAnswer},
	{prefix: "amazon.titan-image-generator", schema: titanImageSchema, check: titanImageCheck, answer: titanImageAnswer},
	{prefix: "amazon.nova-canvas", schema: titanImageSchema, check: titanImageCheck, answer: titanImageAnswer},
}

// regionPrefixes are the prefixes of cross-region inference profile ids.
var regionPrefixes = []string{"us.", "eu.", "apac.", "global.", "us-gov.", "ca.", "jp.", "au."}

// baseModelID strips an ARN's path and a cross-region profile prefix.
func baseModelID(model string) string {
	if i := strings.LastIndexByte(model, '/'); i >= 0 {
		model = model[i+1:]
	}
	for _, p := range regionPrefixes {
		if rest, ok := strings.CutPrefix(model, p); ok && strings.Contains(rest, ".") {
			return rest
		}
	}
	return model
}

func invokeFamilyOf(modelID string) *invokeFamily {
	id := baseModelID(modelID)
	for _, f := range invokeFamilies {
		if strings.HasPrefix(id, f.prefix) {
			return f
		}
	}
	return nil
}

// serveInvoke answers POST /model/{modelId}/invoke.
func (e *Emulator) serveInvoke(x *exchange) error { return e.invoke(x, false) }

// serveInvokeStream answers POST /model/{modelId}/invoke-with-response-stream.
func (e *Emulator) serveInvokeStream(x *exchange) error { return e.invoke(x, true) }

func (e *Emulator) invoke(x *exchange, streaming bool) error {
	modelID := x.call.ModelID
	fam := invokeFamilyOf(modelID)
	if fam == nil && strings.Contains(modelID, importedModelMarker) {
		if body, err := decodeInvokeBody(x.body); err == nil {
			fam = importedFamilyFor(body)
		}
	}
	if !validModelID(modelID) || fam == nil {
		return validationError("The provided model identifier is invalid.")
	}
	body, err := decodeInvokeBody(x.body)
	if err != nil {
		return err
	}
	if err := validateBody(fam.schema(modelID), body); err != nil {
		return err
	}
	if fam.check != nil {
		if err := fam.check(modelID, body); err != nil {
			return err
		}
	}
	if streaming && !fam.stream {
		return validationError("The model is unsupported for streaming.")
	}
	if err := invokeHeaderViolations(x.r.Header); err != nil {
		return err
	}
	fault, err := e.admit(x, streaming)
	if err != nil {
		return err
	}
	ans, err := fam.answer(e, x, body, streaming)
	if err != nil {
		return err
	}
	servedHeaders(x.r.Header, x.w.Header())
	if streaming {
		return e.streamResponse(x, e.chunkEvents(x, ans), fault)
	}
	h := x.w.Header()
	h.Set("X-Amzn-Bedrock-Input-Token-Count", strconv.Itoa(ans.input))
	h.Set("X-Amzn-Bedrock-Output-Token-Count", strconv.Itoa(ans.output))
	h.Set("X-Amzn-Bedrock-Invocation-Latency", strconv.FormatInt(max(1, e.now().Sub(x.start).Milliseconds()), 10))
	return x.answerJSON(ans.body)
}

// invokeHeaderViolations checks the service tier and latency profile
// InvokeModel takes as headers against their enums, as Coral does.
func invokeHeaderViolations(h http.Header) error {
	var v []string
	if t := h.Get(bedrock.HeaderServiceTier); t != "" && !slices.Contains(bedrock.ServiceTiers, t) {
		v = append(v, fmt.Sprintf("Value '%s' at 'serviceTier' failed to satisfy constraint: "+
			"Member must satisfy enum value set: [%s]", t, strings.Join(bedrock.ServiceTiers, ", ")))
	}
	if l := h.Get(bedrock.HeaderLatency); l != "" && l != "standard" && l != "optimized" {
		v = append(v, fmt.Sprintf("Value '%s' at 'performanceConfigLatency' failed to satisfy constraint: "+
			"Member must satisfy enum value set: [standard, optimized]", l))
	}
	if len(v) == 0 {
		return nil
	}
	noun := "error"
	if len(v) > 1 {
		noun = "errors"
	}
	return validationError(fmt.Sprintf("%d validation %s detected: %s", len(v), noun, strings.Join(v, "; ")))
}

// servedHeaders answers with the tier and latency profile asked for, as
// Bedrock does when it has the capacity.
func servedHeaders(req, resp http.Header) {
	for _, name := range []string{bedrock.HeaderServiceTier, bedrock.HeaderLatency} {
		if v := req.Get(name); v != "" {
			resp.Set(name, v)
		}
	}
}

// chunkPayload is a "chunk" event's payload: the native chunk's JSON, base64.
type chunkPayload struct {
	Bytes []byte `json:"bytes"`
}

// chunkEvents wraps the native chunks in "chunk" events; Bedrock adds its
// invocation metrics to the last one.
func (e *Emulator) chunkEvents(x *exchange, ans invokeAnswer) []streamEvent {
	events := make([]streamEvent, 0, len(ans.chunks))
	for i, c := range ans.chunks {
		if i == len(ans.chunks)-1 {
			latency := max(1, e.now().Sub(x.start).Milliseconds())
			c["amazon-bedrock-invocationMetrics"] = map[string]any{
				"inputTokenCount": ans.input, "outputTokenCount": ans.output,
				"invocationLatency": latency, "firstByteLatency": 1,
			}
		}
		raw, _ := json.Marshal(c)
		events = append(events, streamEvent{"chunk", chunkPayload{Bytes: raw}})
	}
	return events
}
