package bedrock

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Building and SigV4-signing one Converse call, as every call does: the
// body hashed once, credentials from the client's cache, the derived
// signing key cached by the signer.
func BenchmarkSignRequest(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 512)
	c, err := NewClient(ClientOptions{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "token"),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		u, err := c.callURL("anthropic.claude-3-5-sonnet-20240620-v1:0", "converse")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.signedRequest(ctx, u, "application/json", body, nil); err != nil {
			b.Fatal(err)
		}
	}
}
