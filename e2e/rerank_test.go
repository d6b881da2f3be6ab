package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-gateway/strata/internal/emulator"
	"github.com/strata-gateway/strata/internal/store/storetest"
)

// rerankAnswer is Cohere's rerank answer, as a client reads it.
type rerankAnswer struct {
	ID      string `json:"id"`
	Results []struct {
		Index          int             `json:"index"`
		RelevanceScore float64         `json:"relevance_score"`
		Document       json.RawMessage `json:"document"`
	} `json:"results"`
	Meta struct {
		BilledUnits struct {
			SearchUnits int `json:"search_units"`
		} `json:"billed_units"`
	} `json:"meta"`
}

// rerankCall is what reached Bedrock's Rerank operation.
type rerankCall struct {
	Queries []struct {
		Type      string `json:"type"`
		TextQuery struct{ Text string }
	} `json:"queries"`
	RerankingConfiguration struct {
		Type                          string `json:"type"`
		BedrockRerankingConfiguration struct {
			ModelConfiguration struct {
				ModelArn string `json:"modelArn"`
			} `json:"modelConfiguration"`
			NumberOfResults int `json:"numberOfResults"`
		} `json:"bedrockRerankingConfiguration"`
	} `json:"rerankingConfiguration"`
	Sources []struct {
		Type                 string `json:"type"`
		InlineDocumentSource struct {
			Type         string                 `json:"type"`
			TextDocument *struct{ Text string } `json:"textDocument"`
			JSONDocument json.RawMessage        `json:"jsonDocument"`
		} `json:"inlineDocumentSource"`
	} `json:"sources"`
}

// Cohere's rerank request on /rerank, /v1/rerank and /v2/rerank, sent by a
// plain HTTP client, reaches Bedrock's Rerank operation signed with SigV4;
// the answer, routing, retries, key access, metrics and spend work as
// they do for chat.
func TestRerank(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	model := func(name, id string) string {
		return fmt.Sprintf(`  - model_name: %s
    litellm_params:
      model: bedrock/%s
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
      aws_bedrock_runtime_endpoint: %s
`, name, id, endpoint)
	}
	config := "model_list:\n" + model("cohere-rerank", "cohere.rerank-v3-5:0") + model("amazon-rerank", "amazon.rerank-v1:0") +
		model("claude", "anthropic.claude-3-5-sonnet-20240620-v1:0") + fmt.Sprintf(`general_settings:
  master_key: os.environ/STRATA_MASTER_KEY
  database_url: %s
`, storetest.URL(t, "sqlite"))
	g := &keyGateway{gateway: startGateway(t, config, keysEnv...), t: t, em: em}

	rerank := func(path, key, body string) (int, []byte, http.Header) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, g.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var raw json.RawMessage
		_ = json.NewDecoder(resp.Body).Decode(&raw)
		return resp.StatusCode, raw, resp.Header
	}
	lastRerank := func() rerankCall {
		t.Helper()
		c := lastCall(t, em)
		if c.Operation != "Rerank" || c.RawPath != "/rerank" || c.AuthScheme != "sigv4" || c.Region != testRegion || c.Status != http.StatusOK {
			t.Fatalf("Bedrock got %s %s (auth %q, region %q, status %d: %s)", c.Operation, c.RawPath, c.AuthScheme, c.Region, c.Status, c.Error)
		}
		var body rerankCall
		if err := json.Unmarshal(c.Body, &body); err != nil {
			t.Fatalf("rerank body: %v: %s", err, c.Body)
		}
		return body
	}

	// Strings, top_n: the documents holding the query's words first, each
	// with its text; one search unit at Cohere Rerank 3.5's $0.002.
	status, raw, h := rerank("/v1/rerank", testMasterKey, `{"model":"cohere-rerank","query":"capital of France",
		"documents":["Berlin is in Germany.","Paris is the capital of France.","France grows wine."],"top_n":2}`)
	if status != http.StatusOK {
		t.Fatalf("rerank: %d %s", status, raw)
	}
	var out rerankAnswer
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	if out.ID == "" || len(out.Results) != 2 || out.Results[0].Index != 1 || out.Results[1].Index != 2 ||
		out.Results[0].RelevanceScore <= out.Results[1].RelevanceScore || out.Meta.BilledUnits.SearchUnits != 1 {
		t.Errorf("answer: %s", raw)
	}
	if string(out.Results[0].Document) != `{"text":"Paris is the capital of France."}` {
		t.Errorf("first document: %s", out.Results[0].Document)
	}
	if cost := h.Get("X-Litellm-Response-Cost"); cost != "0.002" {
		t.Errorf("cost header %q, want 0.002", cost)
	}
	body := lastRerank()
	rc := body.RerankingConfiguration.BedrockRerankingConfiguration
	if rc.ModelConfiguration.ModelArn != "arn:aws:bedrock:"+testRegion+"::foundation-model/cohere.rerank-v3-5:0" || rc.NumberOfResults != 2 ||
		body.RerankingConfiguration.Type != "BEDROCK_RERANKING_MODEL" || len(body.Queries) != 1 || body.Queries[0].TextQuery.Text != "capital of France" ||
		len(body.Sources) != 3 || body.Sources[1].InlineDocumentSource.TextDocument == nil || body.Sources[1].InlineDocumentSource.TextDocument.Text != "Paris is the capital of France." {
		t.Errorf("Bedrock got %+v", body)
	}

	// Objects are JSON documents; return_documents false leaves them out;
	// 150 documents are two search units at Amazon Rerank's $0.001.
	docs := []string{`{"title":"shoes","colour":"red"}`}
	for i := range 149 {
		docs = append(docs, strconv.Quote(fmt.Sprintf("note %d", i)))
	}
	status, raw, h = rerank("/rerank", testMasterKey, `{"model":"amazon-rerank","query":"red shoes","return_documents":false,"documents":[`+strings.Join(docs, ",")+`]}`)
	if status != http.StatusOK {
		t.Fatalf("rerank objects: %d %s", status, raw)
	}
	out = rerankAnswer{}
	_ = json.Unmarshal(raw, &out)
	if len(out.Results) != 150 || out.Results[0].Index != 0 || out.Results[0].Document != nil || out.Meta.BilledUnits.SearchUnits != 2 {
		t.Errorf("answer: %.300s", raw)
	}
	if cost := h.Get("X-Litellm-Response-Cost"); cost != "0.002" {
		t.Errorf("cost header %q, want 0.002 (two queries)", cost)
	}
	body = lastRerank()
	if d := body.Sources[0].InlineDocumentSource; d.Type != "JSON" || string(d.JSONDocument) != `{"title":"shoes","colour":"red"}` {
		t.Errorf("object document reached Bedrock as %+v", d)
	}

	// A throttled call is tried again when the request asks for retries.
	em.Fault(emulator.Fault{Kind: emulator.FaultThrottling})
	before := len(em.Calls())
	status, raw, h = rerank("/v2/rerank", testMasterKey, `{"model":"cohere-rerank","query":"q","documents":["a","b"],"num_retries":1}`)
	if status != http.StatusOK || h.Get("X-Strata-Attempted-Retries") != "1" || len(em.Calls())-before != 2 {
		t.Errorf("after a throttle: %d %s, retries %q, %d calls", status, raw, h.Get("X-Strata-Attempted-Retries"), len(em.Calls())-before)
	}

	// Bedrock's own ValidationException comes back as a 400 with its message.
	status, raw, _ = rerank("/v1/rerank", testMasterKey, `{"model":"cohere-rerank","query":"q","documents":["`+strings.Repeat("x", 32001)+`"]}`)
	g.refused(status, raw, http.StatusBadRequest, "invalid_request", "", "Bedrock ValidationException", "textDocument.text")

	// Refused before Bedrock: a chat model, bad values, a key without the model.
	before = len(em.Calls())
	status, raw, _ = rerank("/v1/rerank", testMasterKey, `{"model":"claude","query":"q","documents":["a"]}`)
	g.refused(status, raw, http.StatusBadRequest, "wrong_endpoint", "model", "chat model")
	status, raw, _ = rerank("/v1/rerank", testMasterKey, `{"model":"cohere-rerank","query":"q","documents":["a"],"top_n":0}`)
	if msg, _, param, _ := errorBody(t, raw); status != http.StatusBadRequest || param == nil || *param != "top_n" {
		t.Errorf("top_n 0: %d %s", status, msg)
	}
	status, raw, _ = rerank("/v1/rerank", testMasterKey, `{"model":"cohere-rerank","query":"q","documents":[3]}`)
	if msg, _, param, _ := errorBody(t, raw); status != http.StatusBadRequest || param == nil || *param != "documents[0]" {
		t.Errorf("a number as document: %d %s", status, msg)
	}
	var k generated
	g.admin("POST", "/key/generate", `{"models":["amazon-rerank"]}`, &k)
	status, raw, _ = rerank("/v1/rerank", k.Key, `{"model":"cohere-rerank","query":"q","documents":["a"]}`)
	g.refused(status, raw, http.StatusForbidden, "key_model_access_denied", "model")
	if n := len(em.Calls()) - before; n != 0 {
		t.Errorf("%d refused requests reached Bedrock", n)
	}
	if status, raw, _ = rerank("/v1/rerank", k.Key, `{"model":"amazon-rerank","query":"q","documents":["a"]}`); status != http.StatusOK {
		t.Errorf("the key's own model: %d %s", status, raw)
	}

	// Metrics count rerank requests like any other.
	_, metrics := g.call("GET", "/metrics", "", "", "", nil)
	if !strings.Contains(string(metrics), `strata_requests_total{deployment="cohere-rerank#1",model_name="cohere-rerank",status="200"} 2`) {
		t.Errorf("metrics lack the rerank requests:\n%s", grepLines(string(metrics), "strata_requests_total"))
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
