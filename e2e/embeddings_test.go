package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/strata-gateway/strata/internal/emulator"
)

// seedEmbeddingModels are the seed's "Supported AWS Bedrock Embedding
// Models", with the vector size each returns.
var seedEmbeddingModels = []struct {
	name, model string
	dims        int
	oneCallEach bool // Titan takes one text per call; Cohere batches
}{
	{"titan-v2", "bedrock/amazon.titan-embed-text-v2:0", 1024, true},
	{"bedrock-titan-embeddings", "bedrock/amazon.titan-embed-text-v1", 1536, true},
	{"cohere-english", "bedrock/cohere.embed-english-v3", 1024, false},
	{"cohere-multilingual", "bedrock/cohere.embed-multilingual-v3", 1024, false},
}

func embeddingsGateway(t *testing.T) (*emulator.Emulator, *gateway) {
	t.Helper()
	em, endpoint := bedrockEmulator(t)
	models := [][2]string{{"cohere-query", "bedrock/cohere.embed-english-v3"}}
	for _, m := range seedEmbeddingModels {
		models = append(models, [2]string{m.name, m.model})
	}
	// cohere-query is the English model with input_type set in its config.
	config := strings.Replace(modelsConfig(endpoint, models, ""),
		"      model: bedrock/cohere.embed-english-v3\n", "      model: bedrock/cohere.embed-english-v3\n      input_type: search_query\n", 1)
	return em, startGateway(t, config, seedEnv...)
}

var embedTexts = []string{"The food was delicious and the waiter...", "Bedrock embeddings", "third text"}

func embed(t *testing.T, client openai.Client, model string, input openai.EmbeddingNewParamsInputUnion, format openai.EmbeddingNewParamsEncodingFormat, opts ...option.RequestOption) *openai.CreateEmbeddingResponse {
	t.Helper()
	resp, err := client.Embeddings.New(ctxTimeout(t), openai.EmbeddingNewParams{Model: model, Input: input, EncodingFormat: format}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// The seed's embedding models answer a string and a list, in input order,
// with usage; Titan is called once per text, Cohere once per batch; base64
// decodes in the client to exactly the floats of the float format.
func TestEmbeddingsSeedModels(t *testing.T) {
	em, g := embeddingsGateway(t)
	client := g.client()
	for _, m := range seedEmbeddingModels {
		t.Run(m.name, func(t *testing.T) {
			em.Reset()
			one := embed(t, client, m.name, openai.EmbeddingNewParamsInputUnion{OfString: openai.String(embedTexts[0])}, openai.EmbeddingNewParamsEncodingFormatFloat)
			if len(one.Data) != 1 || len(one.Data[0].Embedding) != m.dims || one.Object != "list" || one.Data[0].Object != "embedding" {
				t.Fatalf("string input: %d vectors, %d values", len(one.Data), len(one.Data[0].Embedding))
			}
			if one.Usage.PromptTokens != 7 || one.Usage.TotalTokens != 7 {
				t.Errorf("usage %+v, want the 7 tokens Bedrock counted", one.Usage)
			}

			em.Reset()
			list := embed(t, client, m.name, openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: embedTexts}, openai.EmbeddingNewParamsEncodingFormatFloat)
			if len(list.Data) != len(embedTexts) {
				t.Fatalf("list input: %d vectors", len(list.Data))
			}
			for i, d := range list.Data {
				if d.Index != int64(i) {
					t.Errorf("data[%d].index = %d", i, d.Index)
				}
			}
			if !sameFloats(list.Data[0].Embedding, one.Data[0].Embedding) || sameFloats(list.Data[0].Embedding, list.Data[1].Embedding) {
				t.Error("list vectors are not in input order")
			}
			calls := em.Calls()
			wantCalls := 1
			if m.oneCallEach {
				wantCalls = len(embedTexts)
			}
			if len(calls) != wantCalls || calls[0].Operation != "InvokeModel" {
				t.Errorf("%d calls (%s), want %d InvokeModel", len(calls), calls[0].Operation, wantCalls)
			}

			b64 := embed(t, client, m.name, openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: embedTexts}, openai.EmbeddingNewParamsEncodingFormatBase64)
			for i := range b64.Data {
				if !strings.HasPrefix(b64.Data[i].JSON.Embedding.Raw(), `"`) {
					t.Fatalf("base64 format answered %.40s", b64.Data[i].JSON.Embedding.Raw())
				}
				if !sameFloats(b64.Data[i].Embedding, list.Data[i].Embedding) {
					t.Errorf("data[%d]: base64 decodes to other floats than the float format", i)
				}
			}
		})
	}
}

// sameFloats compares vectors as the float32s they are: the SDK reads the
// float format's shortest texts and base64's float32 bytes into float64s
// that differ beyond float32 precision.
func sameFloats(a, b []float64) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for i := range a {
		if float32(a[i]) != float32(b[i]) {
			return false
		}
	}
	return true
}

// base64 is little-endian float32 bytes, as the OpenAI Python SDK decodes
// them (numpy.frombuffer(..., dtype="float32")): checked here by hand.
func TestEmbeddingsBase64Bytes(t *testing.T) {
	_, g := embeddingsGateway(t)
	status, raw, _ := g.post(t, "/v1/embeddings", `{"model": "titan-v2", "input": "hello", "encoding_format": "base64", "dimensions": 256}`)
	status2, rawFloat, _ := g.post(t, "/embeddings", `{"model": "titan-v2", "input": "hello", "dimensions": 256}`)
	if status != 200 || status2 != 200 {
		t.Fatalf("%d %s / %d %s", status, raw, status2, rawFloat)
	}
	var b64 struct{ Data []struct{ Embedding string } }
	var floats struct {
		Data []struct{ Embedding []float64 }
	}
	if err := json.Unmarshal(raw, &b64); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rawFloat, &floats); err != nil {
		t.Fatal(err)
	}
	bytes, err := base64.StdEncoding.DecodeString(b64.Data[0].Embedding)
	if err != nil || len(bytes) != 4*256 {
		t.Fatalf("base64 %d bytes: %v", len(bytes), err)
	}
	var norm float64
	for i, f := range floats.Data[0].Embedding {
		got := math.Float32frombits(binary.LittleEndian.Uint32(bytes[4*i:]))
		if got != float32(f) {
			t.Fatalf("value %d: base64 %v, float %v", i, got, f)
		}
		norm += f * f
	}
	if math.Abs(norm-1) > 1e-5 {
		t.Errorf("titan v2 normalizes by default; norm² %v", norm)
	}
}

// dimensions reach Titan v2's body; a size a model does not make is a 400.
func TestEmbeddingsDimensions(t *testing.T) {
	em, g := embeddingsGateway(t)
	client := g.client()
	resp, err := client.Embeddings.New(ctxTimeout(t), openai.EmbeddingNewParams{
		Model: "titan-v2", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hi")}, Dimensions: openai.Int(256),
	})
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.Unmarshal(lastCall(t, em).Body, &body)
	if len(resp.Data[0].Embedding) != 256 || body["dimensions"] != 256.0 {
		t.Errorf("%d values; body %v", len(resp.Data[0].Embedding), body)
	}
	_, err = client.Embeddings.New(ctxTimeout(t), openai.EmbeddingNewParams{
		Model: "bedrock-titan-embeddings", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hi")}, Dimensions: openai.Int(256),
	})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || !strings.Contains(apiErr.Message, "returns vectors of 1536 values") {
		t.Errorf("titan v1 with dimensions: %v", err)
	}
}

// Cohere's input_type is search_document unless the request or the config
// says otherwise, and it changes the vector.
func TestEmbeddingsCohereInputType(t *testing.T) {
	em, g := embeddingsGateway(t)
	client := g.client()
	inputType := func() string {
		var body struct {
			InputType string `json:"input_type"`
		}
		_ = json.Unmarshal(lastCall(t, em).Body, &body)
		return body.InputType
	}
	input := openai.EmbeddingNewParamsInputUnion{OfString: openai.String("where is the station")}
	doc := embed(t, client, "cohere-english", input, "")
	if got := inputType(); got != "search_document" {
		t.Errorf("default input_type %q", got)
	}
	query := embed(t, client, "cohere-english", input, "", option.WithJSONSet("input_type", "search_query"))
	if got := inputType(); got != "search_query" {
		t.Errorf("request input_type %q", got)
	}
	configured := embed(t, client, "cohere-query", input, "")
	if got := inputType(); got != "search_query" {
		t.Errorf("config input_type %q", got)
	}
	if sameFloats(doc.Data[0].Embedding, query.Data[0].Embedding) || !sameFloats(query.Data[0].Embedding, configured.Data[0].Embedding) {
		t.Error("input_type did not reach the model")
	}
}

// Token ids cannot be embedded by Bedrock's text models: a clear 400.
func TestEmbeddingsTokenInput(t *testing.T) {
	em, g := embeddingsGateway(t)
	client := g.client()
	_, err := client.Embeddings.New(ctxTimeout(t), openai.EmbeddingNewParams{
		Model: "cohere-english", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfTokens: []int64{1, 2, 3}},
	})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || !strings.Contains(apiErr.Message, "token ids are not supported") {
		t.Errorf("token input: %v", err)
	}
	if len(em.Calls()) != 0 {
		t.Error("a refused request reached Bedrock")
	}
}

// With encoding_format float, every number of the answer is the shortest
// text of its float32, as Bedrock wrote it, and as the OpenAI SDK reads it
// back into the same float32.
func TestEmbeddingsFloatText(t *testing.T) {
	_, g := embeddingsGateway(t)
	status, raw, _ := g.post(t, "/v1/embeddings", `{"model": "titan-v2", "input": "hello", "encoding_format": "float"}`)
	if status != 200 {
		t.Fatalf("%d %s", status, raw)
	}
	var body struct {
		Data []struct{ Embedding []json.Number }
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil || len(body.Data) != 1 || len(body.Data[0].Embedding) != 1024 {
		t.Fatalf("answer %.200s: %v", raw, err)
	}
	for i, n := range body.Data[0].Embedding {
		f, err := strconv.ParseFloat(string(n), 32)
		if err != nil {
			t.Fatal(err)
		}
		if short, _ := json.Marshal(float32(f)); string(n) != string(short) {
			t.Fatalf("value %d written as %s; the float32 is %s", i, n, short)
		}
	}
	t.Logf("answer with one 1,024-value vector: %d bytes", len(raw))
}
