package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/strata-gateway/strata/internal/bedrock"
)

// Rerank is an operation of the Bedrock agent runtime, served here beside
// the runtime at POST /rerank, as one endpoint that answers both. Its model
// is named in the body by ARN, so the call records the model id from it.

const rerankPath = "/rerank"

// rerankModelARN is the API model's pattern for modelArn.
var rerankModelARN = regexp.MustCompile(`^(arn:aws(-[^:]+)?:(bedrock|sagemaker):[a-z0-9-]{1,20}:([0-9]{12})?:([a-z-]+/)?)?([a-z0-9.-]{1,63}){0,2}(([:][a-z0-9-]{1,63}){0,2})?(/[a-z0-9]{1,12})?$`)

// Limits from the API model (bedrock-agent-runtime's service-2.json).
const (
	maxRerankSources   = 1000
	maxRerankTextChars = 32000
)

// serveRerank answers POST /rerank: every source scored against the query
// by the share of the query's words it holds (a hash of the text breaks
// ties), most relevant first, numberOfResults of them.
func (e *Emulator) serveRerank(x *exchange) error {
	var req bedrock.RerankRequest
	dec := json.NewDecoder(bytes.NewReader(x.body))
	if err := dec.Decode(&req); err != nil || dec.More() {
		return validationError("Malformed input request, please reformat your input and try again.")
	}
	arn := req.RerankingConfiguration.BedrockRerankingConfiguration.ModelConfiguration.ModelArn
	x.call.ModelID = arn
	if v := rerankViolations(&req); len(v) > 0 {
		noun := "error"
		if len(v) > 1 {
			noun = "errors"
		}
		return validationError(fmt.Sprintf("%d validation %s detected: %s", len(v), noun, strings.Join(v, "; ")))
	}
	model := baseModelID(arn)
	if !strings.HasPrefix(model, "amazon.rerank") && !strings.HasPrefix(model, "cohere.rerank") {
		return validationError(fmt.Sprintf("The model %s is not a reranker model. Choose a reranker model and try again.", arn))
	}
	if _, err := e.admit(x, false); err != nil {
		return err
	}
	query := req.Queries[0].TextQuery.Text
	results := make([]bedrock.RerankResult, len(req.Sources))
	for i, s := range req.Sources {
		results[i] = bedrock.RerankResult{Index: i, RelevanceScore: relevance(query, rerankText(s.InlineDocumentSource))}
	}
	slices.SortStableFunc(results, func(a, b bedrock.RerankResult) int {
		switch {
		case a.RelevanceScore > b.RelevanceScore:
			return -1
		case a.RelevanceScore < b.RelevanceScore:
			return 1
		}
		return 0
	})
	if n := req.RerankingConfiguration.BedrockRerankingConfiguration.NumberOfResults; n != nil && *n < len(results) {
		results = results[:*n]
	}
	return x.answerJSON(bedrock.RerankResponse{Results: results})
}

// rerankViolations are the API model's constraints a request breaks, in
// Coral's words.
func rerankViolations(req *bedrock.RerankRequest) []string {
	var v []string
	enum := func(path, got string, allowed ...string) {
		if !slices.Contains(allowed, got) {
			v = append(v, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]", got, path, strings.Join(allowed, ", ")))
		}
	}
	if len(req.Queries) != 1 {
		v = append(v, fmt.Sprintf("Value at 'queries' failed to satisfy constraint: Member must have length less than or equal to 1 and greater than or equal to 1 (got %d)", len(req.Queries)))
	} else {
		enum("queries.1.member.type", req.Queries[0].Type, bedrock.RerankQueryText)
		if t := req.Queries[0].TextQuery.Text; t == "" || len([]rune(t)) > maxRerankTextChars {
			v = append(v, "Value at 'queries.1.member.textQuery.text' failed to satisfy constraint: Member must have length less than or equal to 32000 and greater than or equal to 1")
		}
	}
	rc := req.RerankingConfiguration
	enum("rerankingConfiguration.type", rc.Type, bedrock.RerankingBedrockModel)
	arn := rc.BedrockRerankingConfiguration.ModelConfiguration.ModelArn
	if arn == "" || len(arn) > 2048 || !rerankModelARN.MatchString(arn) {
		v = append(v, fmt.Sprintf("Value '%s' at 'rerankingConfiguration.bedrockRerankingConfiguration.modelConfiguration.modelArn' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", arn, rerankModelARN.String()))
	}
	if n := rc.BedrockRerankingConfiguration.NumberOfResults; n != nil && (*n < 1 || *n > maxRerankSources) {
		v = append(v, fmt.Sprintf("Value '%d' at 'rerankingConfiguration.bedrockRerankingConfiguration.numberOfResults' failed to satisfy constraint: Member must have value less than or equal to 1000 and greater than or equal to 1", *n))
	}
	if len(req.Sources) < 1 || len(req.Sources) > maxRerankSources {
		v = append(v, "Value at 'sources' failed to satisfy constraint: Member must have length less than or equal to 1000 and greater than or equal to 1")
	}
	for i, s := range req.Sources {
		at := "sources." + strconv.Itoa(i+1) + ".member"
		enum(at+".type", s.Type, bedrock.RerankSourceInline)
		d := s.InlineDocumentSource
		enum(at+".inlineDocumentSource.type", d.Type, bedrock.RerankDocumentText, bedrock.RerankDocumentJSON)
		switch d.Type {
		case bedrock.RerankDocumentText:
			if d.TextDocument == nil || d.TextDocument.Text == "" || len([]rune(d.TextDocument.Text)) > maxRerankTextChars {
				v = append(v, "Value at '"+at+".inlineDocumentSource.textDocument.text' failed to satisfy constraint: Member must have length less than or equal to 32000 and greater than or equal to 1")
			}
		case bedrock.RerankDocumentJSON:
			if len(d.JSONDocument) == 0 || d.JSONDocument[0] != '{' {
				v = append(v, "Value at '"+at+".inlineDocumentSource.jsonDocument' failed to satisfy constraint: Member must be a JSON object")
			}
		}
	}
	return v
}

// rerankText is the text a source is scored by: its text, or its JSON.
func rerankText(d bedrock.RerankDocument) string {
	if d.TextDocument != nil {
		return d.TextDocument.Text
	}
	return string(d.JSONDocument)
}

// relevance is the share of the query's words found in text, kept within
// (0.05, 0.95] so that every document scores, plus a hash-derived tie
// breaker below 0.01.
func relevance(query, text string) float64 {
	words := func(s string) []string {
		return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	}
	in := map[string]bool{}
	for _, w := range words(text) {
		in[w] = true
	}
	q := words(query)
	hits := 0
	for _, w := range q {
		if in[w] {
			hits++
		}
	}
	share := 0.0
	if len(q) > 0 {
		share = float64(hits) / float64(len(q))
	}
	h := fnv.New32a()
	h.Write([]byte(text))
	return 0.05 + 0.89*share + float64(h.Sum32()%1000)/100000
}
