package bedrock

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SigV4 signing of one Converse call, as the client does it: body hashed
// once, derived signing key cached by the signer.
func BenchmarkSignRequest(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 512)
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret", SessionToken: "token"}
	signer := v4.NewSigner()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, "https://bedrock-runtime.us-east-1.amazonaws.com/model/"+escapePath("anthropic.claude-3-5-sonnet-20240620-v1:0")+"/converse", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		sum := sha256.Sum256(body)
		if err := signer.SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), signingName, "us-east-1", now); err != nil {
			b.Fatal(err)
		}
	}
}
