package translate

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
)

// RerankTarget is how a rerank deployment is called: the agent runtime's
// Rerank operation, with the deployment's litellm_params (other than the
// gateway's own) as the model's additionalModelRequestFields.
type RerankTarget struct {
	Params map[string]any
}

// NewRerankTarget builds the target of a rerank model.
func NewRerankTarget(params map[string]any) *RerankTarget {
	if len(params) == 0 {
		return &RerankTarget{}
	}
	return &RerankTarget{Params: maps.Clone(params)}
}

// Limits of Bedrock's Rerank operation (bedrock-agent-runtime's API model).
const (
	maxRerankSources = 1000
	// DocumentsPerSearchUnit is how many documents Bedrock bills as one
	// query; more documents count as more queries.
	DocumentsPerSearchUnit = 100
)

// RerankFromRequest builds the Rerank call for req on the model named by
// modelARN. Strings become text documents and objects JSON documents, as
// LiteLLM sends them; top_n becomes numberOfResults (all documents when
// unset). What Bedrock cannot take is refused with a 400 naming it.
func RerankFromRequest(req *openai.RerankRequest, t *RerankTarget, modelARN string) (*bedrock.RerankRequest, error) {
	switch {
	case req.Query == "":
		return nil, openai.InvalidRequest("query", "query is required: the text the documents are ranked against")
	case len(req.Documents) == 0:
		return nil, openai.InvalidRequest("documents", "documents is required: a list of 1 to %d strings or objects", maxRerankSources)
	case len(req.Documents) > maxRerankSources:
		return nil, openai.InvalidRequest("documents", "documents has %d entries; Bedrock ranks at most %d per request", len(req.Documents), maxRerankSources)
	}
	n := len(req.Documents)
	if req.TopN != nil {
		if *req.TopN < 1 {
			return nil, openai.InvalidRequest("top_n", "top_n must be a whole number >= 1, got %d", *req.TopN)
		}
		// Cohere answers with every document when top_n exceeds them.
		n = min(*req.TopN, n)
	}
	fields := maps.Clone(t.Params)
	if req.MaxTokensPerDoc != nil {
		if *req.MaxTokensPerDoc < 1 {
			return nil, openai.InvalidRequest("max_tokens_per_doc", "max_tokens_per_doc must be a whole number >= 1, got %d", *req.MaxTokensPerDoc)
		}
		if fields == nil {
			fields = map[string]any{}
		}
		fields["max_tokens_per_doc"] = *req.MaxTokensPerDoc
	}
	out := &bedrock.RerankRequest{
		Queries: []bedrock.RerankQuery{{Type: bedrock.RerankQueryText, TextQuery: bedrock.RerankText{Text: req.Query}}},
		RerankingConfiguration: bedrock.RerankingConfiguration{
			Type: bedrock.RerankingBedrockModel,
			BedrockRerankingConfiguration: bedrock.BedrockRerankingConfiguration{
				ModelConfiguration: bedrock.RerankModelConfiguration{ModelArn: modelARN, AdditionalModelRequestFields: fields},
				NumberOfResults:    &n,
			},
		},
		Sources: make([]bedrock.RerankSource, len(req.Documents)),
	}
	for i, d := range req.Documents {
		doc := bedrock.RerankDocument{Type: bedrock.RerankDocumentText, TextDocument: &bedrock.RerankText{Text: d.Text}}
		if d.Object != nil {
			doc = bedrock.RerankDocument{Type: bedrock.RerankDocumentJSON, JSONDocument: d.Object}
		} else if d.Text == "" {
			return nil, openai.InvalidRequest("documents["+strconv.Itoa(i)+"]", "documents[%d] is empty; Bedrock ranks documents of at least one character", i)
		}
		out.Sources[i] = bedrock.RerankSource{Type: bedrock.RerankSourceInline, InlineDocumentSource: doc}
	}
	return out, nil
}

// RerankSearchUnits is what a request with docs documents is billed as.
func RerankSearchUnits(docs int) int {
	return max(1, (docs+DocumentsPerSearchUnit-1)/DocumentsPerSearchUnit)
}

// RerankResponse turns Bedrock's answer into Cohere's, in Bedrock's order
// (most relevant first). Each result carries its document, as sent, unless
// the request said return_documents: false.
func RerankResponse(req *openai.RerankRequest, resp *bedrock.RerankResponse, id string) (*openai.RerankResponse, error) {
	withDocs := req.ReturnDocuments == nil || *req.ReturnDocuments
	out := &openai.RerankResponse{
		ID:      id,
		Results: make([]openai.RerankResult, 0, len(resp.Results)),
		Meta:    openai.RerankMeta{BilledUnits: openai.RerankBilledUnits{SearchUnits: RerankSearchUnits(len(req.Documents))}},
	}
	for _, r := range resp.Results {
		if r.Index < 0 || r.Index >= len(req.Documents) {
			return nil, &openai.Error{Status: 502, Type: openai.TypeAPI, Code: "bad_upstream_answer",
				Message: fmt.Sprintf("Bedrock's rerank answer names document %d, but %d were sent", r.Index, len(req.Documents))}
		}
		res := openai.RerankResult{Index: r.Index, RelevanceScore: r.RelevanceScore}
		if withDocs {
			res.Document = rerankDocumentOut(req.Documents[r.Index])
		}
		out.Results = append(out.Results, res)
	}
	return out, nil
}

func rerankDocumentOut(d openai.RerankDocument) json.RawMessage {
	if d.Object != nil {
		return d.Object
	}
	b, _ := json.Marshal(struct {
		Text string `json:"text"`
	}{d.Text})
	return b
}
