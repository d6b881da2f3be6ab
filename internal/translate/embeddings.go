package translate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
)

// embedCodec is one native embedding format.
type embedCodec struct {
	// batch is how many texts one InvokeModel call takes.
	batch int
	// dims are the vector sizes the model returns, the default first.
	dims []int
	// body renders one call; dims is 0 when the client asked for none.
	body func(texts []string, dims int, params map[string]json.RawMessage) map[string]any
	// answer reads one call's vectors and, when the body reports it, the
	// input token count.
	answer func(body []byte) (vectors [][]float64, tokens int, err error)
}

// maxEmbeddingInputs is OpenAI's own limit on inputs per request.
const maxEmbeddingInputs = 2048

// cohereEmbedBatch is the most texts Cohere Embed takes per call.
const cohereEmbedBatch = 96

var embedCodecs = map[Native]*embedCodec{
	NativeTitanEmbedV1:    {batch: 1, dims: []int{1536}, body: titanEmbedBody(""), answer: titanEmbedAnswer},
	NativeTitanEmbedV2:    {batch: 1, dims: []int{1024, 512, 256}, body: titanEmbedBody("dimensions"), answer: titanEmbedAnswer},
	NativeTitanEmbedImage: {batch: 1, dims: []int{1024, 384, 256}, body: titanEmbedBody("embeddingConfig.outputEmbeddingLength"), answer: titanEmbedAnswer},
	NativeCohereEmbedV3:   {batch: cohereEmbedBatch, dims: []int{1024}, body: cohereEmbedBody(""), answer: cohereEmbedAnswer},
	NativeCohereEmbedV4:   {batch: cohereEmbedBatch, dims: []int{1536, 1024, 512, 256}, body: cohereEmbedBody("output_dimension"), answer: cohereEmbedAnswer},
	NativeNovaEmbed:       {batch: 1, dims: []int{3072, 1024, 384, 256}, body: novaEmbedBody, answer: novaEmbedAnswer},
}

// EmbedTarget is a deployment serving embeddings. Build it once per deployment.
type EmbedTarget struct {
	Model    string
	Native   Native
	codec    *embedCodec
	dims     int // default dimensions from the config; 0: the model's
	defaults map[string]json.RawMessage
}

// NewEmbedTarget checks a deployment's parameters for an embedding model of
// family f: "dimensions" sets the default vector size; every other key is
// provider-specific (input_type, normalize, truncate, ...) and goes into
// each call's body unless a request sets it.
func NewEmbedTarget(model string, f Family, params map[string]any) (*EmbedTarget, error) {
	codec, ok := embedCodecs[f.Native]
	if !ok {
		return nil, fmt.Errorf("Strata has no embedding body for %s (%s)", model, f.Name)
	}
	t := &EmbedTarget{Model: model, Native: f.Native, codec: codec}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		v := params[k]
		if k == "dimensions" {
			n, ok := asFloat(v)
			if !ok || !slices.Contains(codec.dims, int(n)) || n != float64(int(n)) {
				return nil, fmt.Errorf("dimensions: %s returns vectors of %s values", model, joinInts(codec.dims))
			}
			t.dims = int(n)
			continue
		}
		if inferenceParams[k] || gatewayParams[k] {
			continue // chat settings in a shared config mean nothing here
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if t.defaults == nil {
			t.defaults = map[string]json.RawMessage{}
		}
		t.defaults[k] = raw
	}
	return t, nil
}

// EmbedCall is one InvokeModel call of an embeddings request: its body and
// which inputs it covers.
type EmbedCall struct {
	Body  []byte
	First int
	Count int
}

// EmbedPlan is an embeddings request translated into calls. Titan and Nova
// take one text per call; Cohere takes up to 96.
type EmbedPlan struct {
	Calls  []EmbedCall
	Inputs int
	Base64 bool
}

// EmbedFromRequest validates an embeddings request for target and splits it
// into native calls. Problems the client must fix come back as *openai.Error.
func EmbedFromRequest(req *openai.EmbeddingRequest, target *EmbedTarget) (*EmbedPlan, error) {
	plan := &EmbedPlan{}
	switch req.EncodingFormat {
	case "", "float":
	case "base64":
		plan.Base64 = true
	default:
		return nil, openai.InvalidRequest("encoding_format", "encoding_format must be float or base64, got %q", req.EncodingFormat)
	}
	in := req.Input
	switch {
	case !in.Set:
		return nil, openai.InvalidRequest("input", "input is required: a string or an array of strings")
	case in.Tokens:
		return nil, openai.InvalidRequest("input", "Bedrock model %s takes text; token ids are not supported as input, send the strings", target.Model)
	case len(in.Texts) == 0:
		return nil, openai.InvalidRequest("input", "input must not be empty")
	case len(in.Texts) > maxEmbeddingInputs:
		return nil, openai.InvalidRequest("input", "input has %d items; at most %d are allowed per request", len(in.Texts), maxEmbeddingInputs)
	}
	for i, s := range in.Texts {
		if strings.TrimSpace(s) == "" {
			return nil, openai.InvalidRequest("input", "input[%d] is empty; every input must hold text", i)
		}
	}
	dims := target.dims
	if req.Dimensions != nil {
		if !slices.Contains(target.codec.dims, *req.Dimensions) {
			return nil, openai.InvalidRequest("dimensions", "Bedrock model %s returns vectors of %s values; dimensions=%d is not one of them",
				target.Model, joinInts(target.codec.dims), *req.Dimensions)
		}
		dims = *req.Dimensions
	}
	if len(target.codec.dims) == 1 {
		dims = 0 // the model's only size: nothing to ask for
	}
	params := maps.Clone(target.defaults)
	for k, v := range req.Extra {
		if gatewayParams[k] {
			continue
		}
		if params == nil {
			params = map[string]json.RawMessage{}
		}
		params[k] = v
	}
	plan.Inputs = len(in.Texts)
	for first := 0; first < len(in.Texts); first += target.codec.batch {
		texts := in.Texts[first:min(first+target.codec.batch, len(in.Texts))]
		body, err := marshalBody(target.codec.body(texts, dims, params))
		if err != nil {
			return nil, openai.InvalidRequest("", "provider-specific parameters are not valid JSON: %v", err)
		}
		plan.Calls = append(plan.Calls, EmbedCall{Body: body, First: first, Count: len(texts)})
	}
	return plan, nil
}

// VectorsFromInvoke reads one call's answer: a vector per input it covered,
// and its input token count (Bedrock's header, else the body's).
func VectorsFromInvoke(target *EmbedTarget, call EmbedCall, resp *bedrock.InvokeResponse) ([][]float32, int, error) {
	vectors, tokens, err := target.codec.answer(resp.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("translate: read %s answer: %w", target.Native, err)
	}
	if len(vectors) != call.Count {
		return nil, 0, fmt.Errorf("translate: %s answered %d vectors for %d inputs", target.Native, len(vectors), call.Count)
	}
	if resp.InputTokens > 0 {
		tokens = resp.InputTokens
	}
	out := make([][]float32, len(vectors))
	for i, v := range vectors {
		out[i] = make([]float32, len(v))
		for j, f := range v {
			out[i][j] = float32(f)
		}
	}
	return out, tokens, nil
}

// EmbeddingsResponse assembles the answer, vectors in input order.
func EmbeddingsResponse(plan *EmbedPlan, vectors [][]float32, tokens int, model string) *openai.EmbeddingResponse {
	out := &openai.EmbeddingResponse{Object: "list", Model: model, Data: make([]openai.Embedding, len(vectors)),
		Usage: &openai.EmbeddingUsage{PromptTokens: tokens, TotalTokens: tokens}}
	for i, v := range vectors {
		out.Data[i] = openai.Embedding{Object: "embedding", Index: i, Embedding: openai.Vector{Values: v, Base64: plan.Base64}}
	}
	return out
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// setPath puts v at a dotted path of nested objects.
func setPath(m map[string]any, path string, v any) {
	keys := strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		inner, ok := m[k].(map[string]any)
		if !ok {
			inner = map[string]any{}
			m[k] = inner
		}
		m = inner
	}
	m[keys[len(keys)-1]] = v
}

func withParams(body map[string]any, params map[string]json.RawMessage) map[string]any {
	for k, v := range params {
		if _, set := body[k]; !set {
			body[k] = v
		}
	}
	return body
}

// titanEmbedBody renders Titan's one-text body; dimsAt is where the vector
// size goes ("" for v1, which has one size).
func titanEmbedBody(dimsAt string) func([]string, int, map[string]json.RawMessage) map[string]any {
	return func(texts []string, dims int, params map[string]json.RawMessage) map[string]any {
		body := map[string]any{"inputText": texts[0]}
		if dims > 0 && dimsAt != "" {
			setPath(body, dimsAt, dims)
		}
		return withParams(body, params)
	}
}

func titanEmbedAnswer(body []byte) ([][]float64, int, error) {
	var a struct {
		Embedding           []float64 `json:"embedding"`
		InputTextTokenCount int       `json:"inputTextTokenCount"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, 0, err
	}
	if a.Embedding == nil {
		return nil, 0, fmt.Errorf("no embedding in the answer")
	}
	return [][]float64{a.Embedding}, a.InputTextTokenCount, nil
}

// cohereDefaultInputType is what Cohere Embed needs and OpenAI clients
// never send: texts are embedded as documents unless input_type says
// otherwise (in the request or the config).
const cohereDefaultInputType = "search_document"

func cohereEmbedBody(dimsAt string) func([]string, int, map[string]json.RawMessage) map[string]any {
	return func(texts []string, dims int, params map[string]json.RawMessage) map[string]any {
		body := map[string]any{"texts": texts, "input_type": cohereDefaultInputType}
		if raw, ok := params["input_type"]; ok {
			body["input_type"] = raw
		}
		if dimsAt != "" {
			// v4 answers by type; asking for floats makes the shape certain.
			body["embedding_types"] = []string{"float"}
			if dims > 0 {
				body[dimsAt] = dims
			}
		}
		return withParams(body, params)
	}
}

// cohereEmbedAnswer reads "embeddings" as a list of float vectors, or as
// {"float": [...]} when the body asked for embedding types.
func cohereEmbedAnswer(body []byte) ([][]float64, int, error) {
	var a struct {
		Embeddings json.RawMessage `json:"embeddings"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, 0, err
	}
	raw := bytes.TrimSpace(a.Embeddings)
	if len(raw) > 0 && raw[0] == '{' {
		var byType struct {
			Float [][]float64 `json:"float"`
		}
		if err := json.Unmarshal(raw, &byType); err != nil {
			return nil, 0, err
		}
		if byType.Float == nil {
			return nil, 0, fmt.Errorf("no float embeddings in the answer")
		}
		return byType.Float, 0, nil
	}
	var vectors [][]float64
	if err := json.Unmarshal(raw, &vectors); err != nil {
		return nil, 0, err
	}
	return vectors, 0, nil
}

// novaDefaultDims is Nova's largest vector, sent when the client asks for no size.
const novaDefaultDims = 3072

// novaEmbedBody renders a text SINGLE_EMBEDDING request. Provider-specific
// parameters (embeddingPurpose, ...) go in singleEmbeddingParams, except
// truncationMode, which belongs to the text.
func novaEmbedBody(texts []string, dims int, params map[string]json.RawMessage) map[string]any {
	text := map[string]any{"value": texts[0], "truncationMode": "END"}
	if dims == 0 {
		dims = novaDefaultDims
	}
	single := map[string]any{"embeddingPurpose": "GENERIC_INDEX", "embeddingDimension": dims, "text": text}
	for k, v := range params {
		if k == "truncationMode" {
			text[k] = v
			continue
		}
		single[k] = v
	}
	return map[string]any{"taskType": "SINGLE_EMBEDDING", "singleEmbeddingParams": single}
}

func novaEmbedAnswer(body []byte) ([][]float64, int, error) {
	var a struct {
		Embeddings []struct {
			Embedding []float64 `json:"embedding"`
		} `json:"embeddings"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, 0, err
	}
	if len(a.Embeddings) == 0 {
		return nil, 0, fmt.Errorf("no embedding in the answer")
	}
	return [][]float64{a.Embeddings[0].Embedding}, 0, nil
}
