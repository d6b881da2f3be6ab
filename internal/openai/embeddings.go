package openai

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
)

// EmbeddingRequest is the body of POST /embeddings. Every key OpenAI does
// not define lands in Extra: provider-specific parameters (input_type, ...).
type EmbeddingRequest struct {
	Model          string         `json:"model"`
	Input          EmbeddingInput `json:"input"`
	EncodingFormat string         `json:"encoding_format,omitempty"` // float (default) | base64
	Dimensions     *int           `json:"dimensions,omitempty"`
	User           string         `json:"user,omitempty"`

	Extra map[string]json.RawMessage `json:"-"`
}

var embeddingRequestFields = map[string]bool{"model": true, "input": true, "encoding_format": true, "dimensions": true, "user": true}

// UnmarshalJSON decodes the typed fields and keeps every other key in Extra.
func (r *EmbeddingRequest) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	type plain EmbeddingRequest
	if err := json.Unmarshal(b, (*plain)(r)); err != nil {
		return err
	}
	for k, v := range raw {
		if embeddingRequestFields[k] {
			continue
		}
		if r.Extra == nil {
			r.Extra = make(map[string]json.RawMessage)
		}
		r.Extra[k] = v
	}
	return nil
}

// EmbeddingInput is input: a string, a list of strings, or token ids (a
// list of integers, or a list of such lists).
type EmbeddingInput struct {
	Texts []string
	// Tokens is set when the input was token ids, which Bedrock's text
	// models cannot take.
	Tokens bool
	// Set reports that input was present at all.
	Set bool
}

// UnmarshalJSON accepts every shape OpenAI accepts.
func (in *EmbeddingInput) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*in = EmbeddingInput{Set: true}
	switch {
	case bytes.Equal(b, []byte("null")):
		in.Set = false
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		in.Texts = []string{s}
		return nil
	case len(b) > 0 && b[0] == '[':
		var items []json.RawMessage
		if err := json.Unmarshal(b, &items); err != nil {
			return err
		}
		in.Texts = make([]string, 0, len(items))
		for _, it := range items {
			it = bytes.TrimSpace(it)
			if len(it) > 0 && (it[0] == '[' || it[0] == '-' || (it[0] >= '0' && it[0] <= '9')) {
				in.Tokens = true
				in.Texts = nil
				return nil
			}
			var s string
			if err := json.Unmarshal(it, &s); err != nil {
				return &json.UnmarshalTypeError{Value: "array holding " + jsonKind(it), Type: reflect.TypeFor[EmbeddingInput]()}
			}
			in.Texts = append(in.Texts, s)
		}
		return nil
	}
	return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[EmbeddingInput]()}
}

// Expected says what input may be, for the error that names it.
func (EmbeddingInput) Expected() string { return "a string, an array of strings, or token ids" }

// EmbeddingResponse is the answer to POST /embeddings.
type EmbeddingResponse struct {
	Object string          `json:"object"` // list
	Data   []Embedding     `json:"data"`
	Model  string          `json:"model"`
	Usage  *EmbeddingUsage `json:"usage"`
}

// Embedding is one input's vector.
type Embedding struct {
	Object    string `json:"object"` // embedding
	Index     int    `json:"index"`
	Embedding Vector `json:"embedding"`
}

// EmbeddingUsage counts the input tokens; embeddings produce none.
type EmbeddingUsage struct {
	PromptTokens int `json:"prompt_tokens"`
	TotalTokens  int `json:"total_tokens"`
}

// Vector is an embedding as float32s, OpenAI's precision. It is written as
// a list of numbers, or with Base64 set as the base64 of its little-endian
// float32 bytes (encoding_format "base64", the OpenAI SDKs' default). The
// numbers are the float32 values exactly, each in its shortest text, so a
// client decoding either form gets the same float32s.
type Vector struct {
	Values []float32
	Base64 bool
}

// MarshalJSON writes the list or the base64 string.
func (v Vector) MarshalJSON() ([]byte, error) {
	if v.Base64 {
		raw := make([]byte, 4*len(v.Values))
		for i, f := range v.Values {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
		}
		out := make([]byte, 0, base64.StdEncoding.EncodedLen(len(raw))+2)
		out = append(out, '"')
		out = base64.StdEncoding.AppendEncode(out, raw)
		return append(out, '"'), nil
	}
	out := make([]byte, 0, 2+12*len(v.Values))
	out = append(out, '[')
	for i, f := range v.Values {
		if i > 0 {
			out = append(out, ',')
		}
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return nil, errors.New("embedding holds a non-finite number")
		}
		out = appendFloat32(out, f)
	}
	return append(out, ']'), nil
}

// appendFloat32 writes f as the shortest decimal that reads back as the same
// float32, in the form encoding/json gives float32s (and Bedrock's answers
// carry): -0.2819426, not the float64 -0.28194260597229004, which names the
// same float32 in twice the bytes.
func appendFloat32(out []byte, f float32) []byte {
	abs := math.Abs(float64(f))
	format := byte('f')
	if abs != 0 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
		format = 'e'
	}
	out = strconv.AppendFloat(out, float64(f), format, -1, 32)
	if format == 'e' {
		// e-07 -> e-7, as JSON encoders write exponents.
		if n := len(out); n >= 4 && out[n-4] == 'e' && out[n-3] == '-' && out[n-2] == '0' {
			out[n-2] = out[n-1]
			out = out[:n-1]
		}
	}
	return out
}
