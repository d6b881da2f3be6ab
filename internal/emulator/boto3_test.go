package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// boto3Script drives the emulator with boto3, a client nobody here wrote and
// that signs and escapes differently from the Go SDK (botocore's own SigV4 and
// URL quoting). It prints one JSON object with what it saw.
const boto3Script = `
import json, sys
import boto3
from botocore.config import Config

url, key, secret, region, model = sys.argv[1:6]
client = boto3.client("bedrock-runtime", endpoint_url=url, region_name=region,
    aws_access_key_id=key, aws_secret_access_key=secret,
    config=Config(retries={"max_attempts": 1}))
messages = [{"role": "user", "content": [{"text": "hello from boto3"}]}]

out = client.converse(modelId=model, messages=messages)
result = {"text": out["output"]["message"]["content"][0]["text"], "usage": out["usage"]}

stream = client.converse_stream(modelId=model, messages=messages)
events, deltas = [], []
for event in stream["stream"]:
    name = next(iter(event))
    events.append(name)
    if name == "contentBlockDelta":
        deltas.append(event[name]["delta"]["text"])
result["events"] = events
result["streamText"] = "".join(deltas)

try:
    boto3.client("bedrock-runtime", endpoint_url=url, region_name=region,
        aws_access_key_id=key, aws_secret_access_key="wrong",
        config=Config(retries={"max_attempts": 1})).converse(modelId=model, messages=messages)
except client.exceptions.ClientError as e:
    result["wrongSecret"] = e.response["Error"]["Code"]
print(json.dumps(result))
`

func TestBoto3CrossCheck(t *testing.T) {
	emu, srv := startEmulator(t, Options{Region: DemoRegion})
	out := runBoto3(t, boto3Script, srv.URL, DemoAccessKeyID, DemoSecretAccessKey, DemoRegion, testModel)
	var got struct {
		Text       string
		Usage      map[string]int
		Events     []string
		StreamText string
		WrongCode  string `json:"wrongSecret"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("boto3 output %q: %v", out, err)
	}

	if got.Text != "echo: hello from boto3" || got.StreamText != got.Text {
		t.Errorf("converse %q, stream %q", got.Text, got.StreamText)
	}
	if got.Usage["inputTokens"] != 3 || got.Usage["outputTokens"] != 4 || got.Usage["totalTokens"] != 7 {
		t.Errorf("usage = %v", got.Usage)
	}
	wantEvents := []string{"messageStart", "contentBlockDelta", "contentBlockDelta", "contentBlockDelta", "contentBlockDelta",
		"contentBlockStop", "messageStop", "metadata"}
	if !slices.Equal(got.Events, wantEvents) {
		t.Errorf("events = %v", got.Events)
	}
	if got.WrongCode != "InvalidSignatureException" {
		t.Errorf("wrong secret gave %q", got.WrongCode)
	}
	for _, c := range emu.Calls()[:2] {
		if c.ModelID != testModel || c.Status != 200 {
			t.Errorf("call %s: model %q status %d (raw path %q)", c.Operation, c.ModelID, c.Status, c.RawPath)
		}
	}
}

// runBoto3 runs a Python script with boto3 and the given arguments, and
// returns what it printed. It skips when boto3 is not installed: it checks
// the emulator against a client nobody here wrote, which the Go SDK's tests
// cannot replace but a machine may lack.
func runBoto3(t *testing.T, script string, args ...string) []byte {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	if err := exec.Command(python, "-c", "import boto3").Run(); err != nil {
		t.Skip("boto3 not importable")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, python, append([]string{"-c", script}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("boto3 script: %v\n%s", err, stderr.String())
	}
	return stdout.Bytes()
}
