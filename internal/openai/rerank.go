package openai

import (
	"bytes"
	"encoding/json"
	"reflect"
)

// RerankRequest is the body of POST /rerank, /v1/rerank and /v2/rerank:
// Cohere's rerank request, which OpenAI has no counterpart for and which
// LiteLLM serves on those paths. Other keys land in Extra.
type RerankRequest struct {
	Model     string           `json:"model"`
	Query     string           `json:"query"`
	Documents []RerankDocument `json:"documents"`
	TopN      *int             `json:"top_n,omitempty"`
	// ReturnDocuments puts each document in its result; unset means true,
	// as in LiteLLM.
	ReturnDocuments *bool    `json:"return_documents,omitempty"`
	RankFields      []string `json:"rank_fields,omitempty"`
	MaxChunksPerDoc *int     `json:"max_chunks_per_doc,omitempty"`
	MaxTokensPerDoc *int     `json:"max_tokens_per_doc,omitempty"`
	User            string   `json:"user,omitempty"`

	Extra map[string]json.RawMessage `json:"-"`
}

var rerankRequestFields = map[string]bool{
	"model": true, "query": true, "documents": true, "top_n": true, "return_documents": true,
	"rank_fields": true, "max_chunks_per_doc": true, "max_tokens_per_doc": true, "user": true,
}

// UnmarshalJSON decodes the typed fields and keeps every other key in Extra.
func (r *RerankRequest) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	type plain RerankRequest
	if err := json.Unmarshal(b, (*plain)(r)); err != nil {
		return err
	}
	for k, v := range raw {
		if rerankRequestFields[k] {
			continue
		}
		if r.Extra == nil {
			r.Extra = make(map[string]json.RawMessage)
		}
		r.Extra[k] = v
	}
	return nil
}

// RerankDocument is one document: a string, or an object (Cohere's
// {"text": ...} or any JSON document), kept as sent.
type RerankDocument struct {
	Text   string
	Object json.RawMessage // set for an object; Text is then empty
}

// UnmarshalJSON accepts a string or an object.
func (d *RerankDocument) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		*d = RerankDocument{}
		return json.Unmarshal(b, &d.Text)
	case len(b) > 0 && b[0] == '{':
		*d = RerankDocument{Object: append(json.RawMessage(nil), b...)}
		return nil
	}
	return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[RerankDocument]()}
}

// Expected says what a document may be, for the error that names it.
func (RerankDocument) Expected() string { return "a string or an object" }

// RerankResponse is the answer: the documents kept, most relevant first.
type RerankResponse struct {
	ID      string         `json:"id"`
	Results []RerankResult `json:"results"`
	Meta    RerankMeta     `json:"meta"`
}

// RerankResult is one document's place. Document is {"text": ...} for a
// string document and the object itself for an object; absent when the
// request asked for no documents.
type RerankResult struct {
	Index          int             `json:"index"`
	RelevanceScore float64         `json:"relevance_score"`
	Document       json.RawMessage `json:"document,omitempty"`
}

// RerankMeta says what the request is billed as.
type RerankMeta struct {
	BilledUnits RerankBilledUnits `json:"billed_units"`
}

// RerankBilledUnits counts search units: Bedrock's queries, each of up to
// 100 documents.
type RerankBilledUnits struct {
	SearchUnits int `json:"search_units"`
}
