package emulator

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
)

// Embedding models answer with vectors derived from the text (and the
// input type, where the model has one): the same text always gets the same
// vector, different texts different ones, of the size asked for.

// embedVector is text's deterministic vector of dims values, unit length
// when normalize is set. The values are float32s, as the models make them,
// so the JSON carries each in its shortest form (-0.2819426), as Bedrock's does.
func embedVector(text, inputType string, dims int, normalize bool) []float32 {
	h := fnv.New64a()
	h.Write([]byte(inputType))
	h.Write([]byte{0})
	h.Write([]byte(text))
	seed := h.Sum64()
	rng := rand.New(rand.NewPCG(seed, seed>>7|1))
	v := make([]float64, dims)
	var norm float64
	for i := range v {
		v[i] = rng.Float64()*2 - 1
		norm += v[i] * v[i]
	}
	if normalize {
		norm = math.Sqrt(norm)
		for i := range v {
			v[i] /= norm
		}
	}
	out := make([]float32, dims)
	for i, f := range v {
		out[i] = float32(f)
	}
	return out
}

// --- Amazon Titan embeddings ---

func titanEmbedV1Schema(string) *field {
	return object(map[string]*field{"inputText": str().req().length(1, 50000)})
}

func titanEmbedV2Schema(string) *field {
	return object(map[string]*field{
		"inputText":      str().req().length(1, 50000),
		"dimensions":     oneOfInts(256, 512, 1024),
		"normalize":      boolean(),
		"embeddingTypes": array(oneOf("float", "binary")).length(1, 2),
	})
}

func titanEmbedImageSchema(string) *field {
	return object(map[string]*field{
		"inputText":       str().length(1, 50000),
		"inputImage":      str(),
		"embeddingConfig": object(map[string]*field{"outputEmbeddingLength": oneOfInts(256, 384, 1024)}),
	})
}

func titanEmbedImageCheck(_ string, body map[string]any) error {
	if _, text := body["inputText"]; !text {
		if _, img := body["inputImage"]; !img {
			return validationError("Malformed input request: at least one of inputText and inputImage is required, please reformat your input and try again.")
		}
	}
	return nil
}

// titanEmbedAnswer answers for a Titan embedding model whose default size is
// dims; normalizes says whether it normalizes by default (v2 does).
func titanEmbedAnswer(defaultDims int, normalizes bool) func(*Emulator, *exchange, map[string]any, bool) (invokeAnswer, error) {
	return func(_ *Emulator, _ *exchange, body map[string]any, _ bool) (invokeAnswer, error) {
		text := getString(body, "inputText")
		dims := defaultDims // per call: the closure is shared by every emulator
		if n, ok := getInt(body, "dimensions"); ok {
			dims = int(n)
		}
		if n, ok := getInt(getObject(body, "embeddingConfig"), "outputEmbeddingLength"); ok {
			dims = int(n)
		}
		normalize := normalizes
		if b, ok := body["normalize"].(bool); ok {
			normalize = b
		}
		vec := embedVector(text, "", dims, normalize)
		tokens := max(1, countWords(text))
		answer := map[string]any{"embedding": vec, "inputTextTokenCount": tokens}
		if _, typed := body["embeddingTypes"]; typed {
			answer["embeddingsByType"] = map[string]any{"float": vec}
		}
		return invokeAnswer{body: answer, input: tokens}, nil
	}
}

// --- Cohere Embed ---

func cohereEmbedV3Schema(string) *field {
	return object(map[string]*field{
		"texts":           array(str().length(0, 2048)).length(0, 96),
		"images":          array(str()).length(0, 1),
		"input_type":      oneOf("search_document", "search_query", "classification", "clustering", "image").req(),
		"truncate":        oneOf("NONE", "START", "END"),
		"embedding_types": array(oneOf("float", "int8", "uint8", "binary", "ubinary")),
	})
}

func cohereEmbedV4Schema(string) *field {
	return object(map[string]*field{
		"texts":            array(str()).length(0, 96),
		"images":           array(str()).length(0, 96),
		"inputs":           anyValue(),
		"input_type":       oneOf("search_document", "search_query", "classification", "clustering").req(),
		"embedding_types":  array(oneOf("float", "int8", "uint8", "binary", "ubinary")),
		"output_dimension": oneOfInts(256, 512, 1024, 1536),
		"max_tokens":       integer(1, 128000),
		"truncate":         oneOf("NONE", "LEFT", "RIGHT"),
	})
}

func cohereEmbedAnswer(defaultDims int) func(*Emulator, *exchange, map[string]any, bool) (invokeAnswer, error) {
	return func(_ *Emulator, _ *exchange, body map[string]any, _ bool) (invokeAnswer, error) {
		texts := getStrings(body, "texts")
		if len(texts) == 0 {
			return invokeAnswer{}, validationError("Malformed input request: texts or images must be provided, please reformat your input and try again.")
		}
		dims := defaultDims // per call: the closure is shared by every emulator
		if n, ok := getInt(body, "output_dimension"); ok {
			dims = int(n)
		}
		inputType := getString(body, "input_type")
		vectors := make([][]float32, len(texts))
		tokens := 0
		for i, t := range texts {
			vectors[i] = embedVector(t, inputType, dims, true)
			tokens += max(1, countWords(t))
		}
		answer := map[string]any{"id": messageID(""), "texts": texts, "response_type": "embeddings_floats", "embeddings": vectors}
		if _, typed := body["embedding_types"]; typed {
			answer["response_type"] = "embeddings_by_type"
			answer["embeddings"] = map[string]any{"float": vectors}
		}
		return invokeAnswer{body: answer, input: tokens}, nil
	}
}

// --- Amazon Nova Multimodal Embeddings (text) ---

func novaEmbedSchema(string) *field {
	return object(map[string]*field{
		"schemaVersion": oneOf("nova-multimodal-embed-v1"),
		"taskType":      oneOf("SINGLE_EMBEDDING", "SEGMENTED_EMBEDDING").req(),
		"singleEmbeddingParams": object(map[string]*field{
			"embeddingPurpose": oneOf("GENERIC_INDEX", "GENERIC_RETRIEVAL", "TEXT_RETRIEVAL", "IMAGE_RETRIEVAL", "VIDEO_RETRIEVAL",
				"DOCUMENT_RETRIEVAL", "AUDIO_RETRIEVAL", "CLASSIFICATION", "CLUSTERING").req(),
			"embeddingDimension": oneOfInts(256, 384, 1024, 3072),
			"text": object(map[string]*field{
				"truncationMode": oneOf("START", "END", "NONE").req(),
				"value":          str(),
				"source":         anyValue(),
			}),
			"image": anyValue(), "audio": anyValue(), "video": anyValue(),
		}),
		"segmentedEmbeddingParams": anyValue(),
	})
}

func novaEmbedAnswer(_ *Emulator, _ *exchange, body map[string]any, _ bool) (invokeAnswer, error) {
	params := getObject(body, "singleEmbeddingParams")
	text := getObject(params, "text")
	if getString(body, "taskType") != "SINGLE_EMBEDDING" || text == nil {
		return invokeAnswer{}, validationError("The emulator embeds text with taskType SINGLE_EMBEDDING only.")
	}
	dims := 3072
	if n, ok := getInt(params, "embeddingDimension"); ok {
		dims = int(n)
	}
	value := getString(text, "value")
	vec := embedVector(value, getString(params, "embeddingPurpose"), dims, true)
	tokens := max(1, countWords(value))
	return invokeAnswer{body: map[string]any{"embeddings": []any{map[string]any{"embeddingType": "TEXT", "embedding": vec}}}, input: tokens}, nil
}
