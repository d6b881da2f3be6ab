package bedrock

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The signer must produce, header for header, what the SDK's signer
// produces for the same call: the signature is checked by AWS, and a
// difference in any byte of the canonical request is a 403.
func TestSigV4SignsAsTheSDK(t *testing.T) {
	endpoints := []string{
		"https://bedrock-runtime.us-east-1.amazonaws.com",
		"https://bedrock-runtime.eu-west-3.amazonaws.com:443",
		"http://127.0.0.1:4001",
		"http://localhost:80",
		"https://[::1]:443",
		"https://[::1]:8443",
	}
	models := []string{
		"anthropic.claude-3-5-sonnet-20240620-v1:0",
		"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3",
		"us.meta.llama3-2-1b-instruct-v1:0",
	}
	credentials := []aws.Credentials{
		{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
		{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "FwoGZXIvYXdzEJr//////////wEaDP+token=="},
	}
	extraHeaders := []http.Header{
		nil,
		{"X-Amzn-Bedrock-Guardrailidentifier": {"  gr-1  "}, "X-Amzn-Bedrock-Trace": {"ENABLED", "a   b"}, "User-Agent": {"strata"}},
	}
	times := []time.Time{
		time.Date(2026, 11, 24, 23, 59, 59, 0, time.UTC),
		time.Date(2026, 11, 25, 0, 0, 1, 0, time.FixedZone("CET", 3600)),
	}
	bodies := [][]byte{[]byte(`{"messages":[]}`), nil}
	regions := []string{"us-east-1", "eu-west-3"}

	ours := map[string]*sigv4{}
	n := 0
	for _, endpoint := range endpoints {
		for _, model := range models {
			for _, creds := range credentials {
				for _, extra := range extraHeaders {
					for _, now := range times {
						for _, body := range bodies {
							for _, region := range regions {
								n++
								name := fmt.Sprintf("%s %s %s %d %s %d %s", endpoint, model, creds.AccessKeyID, len(extra), now, len(body), region)
								mine, theirs := newSignedCall(t, endpoint, model, body, extra), newSignedCall(t, endpoint, model, body, extra)
								sum := sha256.Sum256(body)
								if err := v4.NewSigner().SignHTTP(context.Background(), creds, theirs, hex.EncodeToString(sum[:]), signingName, region, now); err != nil {
									t.Fatal(err)
								}
								s := ours[region]
								if s == nil {
									s = &sigv4{region: region, service: signingName}
									ours[region] = s
								}
								s.sign(mine, creds, &sum, now)
								for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
									if got, want := mine.Header.Values(h), theirs.Header.Values(h); fmt.Sprint(got) != fmt.Sprint(want) {
										t.Errorf("%s: %s\n got  %q\n want %q", name, h, got, want)
									}
								}
								if mine.Host != theirs.Host {
									t.Errorf("%s: Host %q, want %q", name, mine.Host, theirs.Host)
								}
							}
						}
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no cases")
	}
}

func newSignedCall(t *testing.T, endpoint, model string, body []byte, extra http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint+"/model/"+escapePath(model)+"/converse", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	for k, v := range extra {
		req.Header[k] = append([]string(nil), v...)
	}
	return req
}

// The derived key is reused within a day and for one secret only.
func TestSigV4RederivesTheKeyForANewDayOrSecret(t *testing.T) {
	s := &sigv4{region: "us-east-1", service: signingName}
	k1 := s.signingKey("secret", "20261124")
	if k := s.signingKey("secret", "20261124"); k != k1 {
		t.Error("the same day and secret derived a new key")
	}
	if k := s.signingKey("secret", "20261125"); bytes.Equal(k.key, k1.key) {
		t.Error("a new day kept the old key")
	}
	if k := s.signingKey("rotated", "20261125"); bytes.Equal(k.key, s.signingKey("secret", "20261125").key) {
		t.Error("a rotated secret kept the old key")
	}
}

// Signing as the client does it; compare BenchmarkSignRequest, the SDK's
// signer on the same call.
func BenchmarkSigV4(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 512)
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret", SessionToken: "token"}
	s := &sigv4{region: "us-east-1", service: signingName}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, "https://bedrock-runtime.us-east-1.amazonaws.com/model/"+escapePath("anthropic.claude-3-5-sonnet-20240620-v1:0")+"/converse", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		sum := sha256.Sum256(body)
		s.sign(req, creds, &sum, now)
	}
}

// One signer serves every call of a deployment at once, across a change of
// day and of credentials.
func TestSigV4ConcurrentCalls(t *testing.T) {
	s := &sigv4{region: "us-east-1", service: signingName}
	days := []time.Time{time.Date(2026, 11, 24, 23, 59, 59, 0, time.UTC), time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)}
	creds := []aws.Credentials{
		{AccessKeyID: "AKID1", SecretAccessKey: "secret1"},
		{AccessKeyID: "AKID2", SecretAccessKey: "secret2", SessionToken: "token"},
	}
	body := []byte(`{"messages":[]}`)
	sum := sha256.Sum256(body)
	want := map[[2]int]string{}
	for d, now := range days {
		for c, cr := range creds {
			req := newSignedCall(t, "https://bedrock-runtime.us-east-1.amazonaws.com", "m", body, nil)
			if err := v4.NewSigner().SignHTTP(context.Background(), cr, req, hex.EncodeToString(sum[:]), signingName, "us-east-1", now); err != nil {
				t.Fatal(err)
			}
			want[[2]int{d, c}] = req.Header.Get("Authorization")
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				d, c := (g+i)%2, (g+i/2)%2
				req := newSignedCall(t, "https://bedrock-runtime.us-east-1.amazonaws.com", "m", body, nil)
				s.sign(req, creds[c], &sum, days[d])
				if got := req.Header.Get("Authorization"); got != want[[2]int{d, c}] {
					t.Errorf("day %d creds %d: %s, want %s", d, c, got, want[[2]int{d, c}])
					return
				}
			}
		})
	}
	wg.Wait()
}
