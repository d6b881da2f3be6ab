package bedrock

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Rerank is an operation of the Bedrock agent runtime
// (bedrock-agent-runtime.<region>.amazonaws.com), not of the Bedrock
// runtime; it is signed for the same service name, "bedrock".

// Values of the Rerank operation's type fields.
const (
	RerankQueryText       = "TEXT"
	RerankSourceInline    = "INLINE"
	RerankDocumentText    = "TEXT"
	RerankDocumentJSON    = "JSON"
	RerankingBedrockModel = "BEDROCK_RERANKING_MODEL"
)

// RerankRequest is the body of POST /rerank.
type RerankRequest struct {
	Queries                []RerankQuery          `json:"queries"`
	RerankingConfiguration RerankingConfiguration `json:"rerankingConfiguration"`
	Sources                []RerankSource         `json:"sources"`
	NextToken              string                 `json:"nextToken,omitempty"`
}

// RerankQuery is the query the sources are ranked against.
type RerankQuery struct {
	Type      string     `json:"type"` // TEXT
	TextQuery RerankText `json:"textQuery"`
}

// RerankText is a text query or document.
type RerankText struct {
	Text string `json:"text"`
}

// RerankingConfiguration names the reranker model.
type RerankingConfiguration struct {
	Type                          string                        `json:"type"` // BEDROCK_RERANKING_MODEL
	BedrockRerankingConfiguration BedrockRerankingConfiguration `json:"bedrockRerankingConfiguration"`
}

// BedrockRerankingConfiguration is the model and how many results it keeps.
type BedrockRerankingConfiguration struct {
	ModelConfiguration RerankModelConfiguration `json:"modelConfiguration"`
	NumberOfResults    *int                     `json:"numberOfResults,omitempty"`
}

// RerankModelConfiguration names the model by ARN.
type RerankModelConfiguration struct {
	ModelArn                     string         `json:"modelArn"`
	AdditionalModelRequestFields map[string]any `json:"additionalModelRequestFields,omitempty"`
}

// RerankSource is one document to rank, given inline.
type RerankSource struct {
	Type                 string         `json:"type"` // INLINE
	InlineDocumentSource RerankDocument `json:"inlineDocumentSource"`
}

// RerankDocument is a text document or a JSON one.
type RerankDocument struct {
	Type         string          `json:"type"` // TEXT | JSON
	TextDocument *RerankText     `json:"textDocument,omitempty"`
	JSONDocument json.RawMessage `json:"jsonDocument,omitempty"`
}

// RerankResponse is Rerank's answer: the kept sources, most relevant first.
type RerankResponse struct {
	Results   []RerankResult `json:"results"`
	NextToken string         `json:"nextToken,omitempty"`
}

// RerankResult is one source's place: its index among the sources sent.
type RerankResult struct {
	Index          int             `json:"index"`
	RelevanceScore float64         `json:"relevanceScore"`
	Document       *RerankDocument `json:"document,omitempty"`
}

// maxRerankPages bounds how many times a Rerank answer's nextToken is
// followed.
const maxRerankPages = 20

// Rerank calls the agent runtime's Rerank operation. When Bedrock pages
// the results, the following pages are asked for and appended.
func (c *Client) Rerank(ctx context.Context, in *RerankRequest) (*RerankResponse, error) {
	u, err := url.Parse(c.agentEndpoint + "/rerank")
	if err != nil {
		return nil, fmt.Errorf("bedrock: build request: %w", err)
	}
	req := *in
	var out RerankResponse
	for page := 0; ; page++ {
		body, err := json.Marshal(&req)
		if err != nil {
			return nil, fmt.Errorf("bedrock: encode rerank request: %w", err)
		}
		resp, err := c.send(ctx, *u, "application/json", body, nil)
		if err != nil {
			return nil, err
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, &TransportError{Err: fmt.Errorf("read rerank response: %w", err)}
		}
		var got RerankResponse
		if err := json.Unmarshal(raw, &got); err != nil {
			return nil, &TransportError{Err: fmt.Errorf("decode rerank response: %w", err)}
		}
		out.Results = append(out.Results, got.Results...)
		if got.NextToken == "" || page+1 >= maxRerankPages {
			out.NextToken = got.NextToken
			return &out, nil
		}
		req.NextToken = got.NextToken
	}
}

// AgentEndpoint is the base URL Rerank calls go to.
func (c *Client) AgentEndpoint() string { return c.agentEndpoint }

// agentEndpointFor is the agent runtime's URL beside a runtime endpoint:
// "bedrock-runtime" in the host becomes "bedrock-agent-runtime", as the
// AWS endpoints (and VPC endpoint names) are spelled. Any other endpoint,
// a proxy or an emulator, is taken to serve both.
func agentEndpointFor(runtime string) string {
	u, err := url.Parse(runtime)
	if err != nil || !strings.Contains(u.Host, "bedrock-runtime") {
		return runtime
	}
	u.Host = strings.Replace(u.Host, "bedrock-runtime", "bedrock-agent-runtime", 1)
	return u.String()
}

// FoundationModelARN is the ARN Rerank names a model by: id itself when it
// is an ARN already, else the foundation model's ARN in the client's region.
func (c *Client) FoundationModelARN(id string) string {
	if strings.HasPrefix(id, "arn:") {
		return id
	}
	partition := "aws"
	switch {
	case strings.HasPrefix(c.region, "us-gov-"):
		partition = "aws-us-gov"
	case strings.HasPrefix(c.region, "cn-"):
		partition = "aws-cn"
	}
	return "arn:" + partition + ":bedrock:" + c.region + "::foundation-model/" + id
}
