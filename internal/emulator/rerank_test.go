package emulator

import (
	"encoding/json"
	"testing"
)

// boto3RerankScript calls Rerank with botocore's own model of
// bedrock-agent-runtime: its request shape, its SigV4 signing name, its
// reading of the answer and of the ValidationException.
const boto3RerankScript = `
import json, sys
import boto3
from botocore.config import Config

url, key, secret, region = sys.argv[1:5]
client = boto3.client("bedrock-agent-runtime", endpoint_url=url, region_name=region,
    aws_access_key_id=key, aws_secret_access_key=secret,
    config=Config(retries={"max_attempts": 1}))
def rerank(model, n):
    return client.rerank(
        queries=[{"type": "TEXT", "textQuery": {"text": "capital of France"}}],
        sources=[{"type": "INLINE", "inlineDocumentSource": {"type": "TEXT", "textDocument": {"text": t}}}
                 for t in ["Berlin is in Germany.", "Paris is the capital of France."]] +
                [{"type": "INLINE", "inlineDocumentSource": {"type": "JSON", "jsonDocument": {"city": "Lyon", "country": "France"}}}],
        rerankingConfiguration={"type": "BEDROCK_RERANKING_MODEL", "bedrockRerankingConfiguration": {
            "numberOfResults": n, "modelConfiguration": {"modelArn": model}}})
out = rerank("arn:aws:bedrock:" + region + "::foundation-model/cohere.rerank-v3-5:0", 2)
result = {"results": out["results"]}
try:
    rerank("arn:aws:bedrock:" + region + "::foundation-model/anthropic.claude-3-haiku-20240307-v1:0", 1)
except client.exceptions.ValidationException as e:
    result["notReranker"] = e.response["Error"]["Message"]
print(json.dumps(result))
`

func TestBoto3Rerank(t *testing.T) {
	emu, srv := startEmulator(t, Options{Region: DemoRegion})
	out := runBoto3(t, boto3RerankScript, srv.URL, DemoAccessKeyID, DemoSecretAccessKey, DemoRegion)
	var got struct {
		Results []struct {
			Index          int
			RelevanceScore float64
		}
		NotReranker string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("boto3 output %q: %v", out, err)
	}
	if len(got.Results) != 2 || got.Results[0].Index != 1 || got.Results[0].RelevanceScore <= got.Results[1].RelevanceScore {
		t.Errorf("results = %+v", got.Results)
	}
	if got.NotReranker == "" {
		t.Error("a model that is not a reranker was not refused with a ValidationException")
	}
	calls := emu.Calls()
	if len(calls) != 2 || calls[0].Operation != "Rerank" || calls[0].Status != 200 || calls[0].AuthScheme != "sigv4" || calls[1].Status != 400 {
		t.Errorf("calls = %+v", calls)
	}
}
