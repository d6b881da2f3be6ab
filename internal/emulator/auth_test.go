package emulator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const helloBody = `{"messages":[{"role":"user","content":[{"text":"hello"}]}]}`

// signedRequest builds a request the way a hand-written client does: an
// http.Request whose URL.RawPath carries the escaped model id, signed with
// v4.Signer.SignHTTP.
func signedRequest(t *testing.T, baseURL, rawPath, body string, creds aws.Credentials, region string, at time.Time) *http.Request {
	t.Helper()
	path, err := url.PathUnescape(rawPath)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, baseURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Path, req.URL.RawPath = path, rawPath
	req.Header.Set("Content-Type", "application/json")
	hash := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(hash[:]), "bedrock", region, at); err != nil {
		t.Fatal(err)
	}
	return req
}

var demoCreds = aws.Credentials{AccessKeyID: DemoAccessKeyID, SecretAccessKey: DemoSecretAccessKey}

// send does the request and returns the status, the exception name and the message.
func send(t *testing.T, req *http.Request) (int, string, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("X-Amzn-RequestId") == "" {
		t.Errorf("no x-amzn-RequestId header")
	}
	errorType, _, _ := strings.Cut(resp.Header.Get("X-Amzn-ErrorType"), ":")
	var msg struct{ Message string }
	_ = json.Unmarshal(body, &msg)
	return resp.StatusCode, errorType, msg.Message
}

func TestSignHTTPWithEscapedPath(t *testing.T) {
	_, srv := startEmulator(t, Options{Region: DemoRegion})
	arn := "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0"
	for _, rawPath := range []string{
		"/model/" + testModel + "/converse",                        // ':' left as is
		"/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse", // ':' escaped, as the AWS SDKs send it
		"/model/" + url.QueryEscape(arn) + "/converse",             // ARN with %2F and %3A
		"/model/" + arn + "/converse",                              // ARN unescaped
	} {
		req := signedRequest(t, srv.URL, rawPath, helloBody, demoCreds, DemoRegion, time.Now())
		if status, code, msg := send(t, req); status != http.StatusOK {
			t.Errorf("%s: %d %s %s", rawPath, status, code, msg)
		}
	}
}

func TestSignatureFailures(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	_, srv := startEmulator(t, Options{Region: DemoRegion, Clock: func() time.Time { return now }})
	path := "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"

	tests := []struct {
		name    string
		request func() *http.Request
		status  int
		code    string
		message string
	}{{
		name: "no authorization",
		request: func() *http.Request {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(helloBody))
			return req
		},
		status: 403, code: "MissingAuthenticationTokenException", message: "Missing Authentication Token",
	}, {
		name: "tampered body",
		request: func() *http.Request {
			req := signedRequest(t, srv.URL, path, helloBody, demoCreds, DemoRegion, now)
			tampered := strings.Replace(helloBody, "hello", "HELLO", 1)
			req.Body = io.NopCloser(strings.NewReader(tampered))
			return req
		},
		status: 403, code: "InvalidSignatureException", message: msgSignatureMismatch,
	}, {
		name: "tampered path",
		request: func() *http.Request {
			req := signedRequest(t, srv.URL, path, helloBody, demoCreds, DemoRegion, now)
			req.URL.RawPath = strings.Replace(path, "haiku", "opus", 1)
			req.URL.Path, _ = url.PathUnescape(req.URL.RawPath)
			return req
		},
		status: 403, code: "InvalidSignatureException", message: msgSignatureMismatch,
	}, {
		name: "signed six minutes ago",
		request: func() *http.Request {
			return signedRequest(t, srv.URL, path, helloBody, demoCreds, DemoRegion, now.Add(-6*time.Minute))
		},
		status: 403, code: "InvalidSignatureException",
		message: "Signature expired: 20250301T115400Z is now earlier than 20250301T115500Z (20250301T120000Z - 5 min.)",
	}, {
		name: "signed in the future",
		request: func() *http.Request {
			return signedRequest(t, srv.URL, path, helloBody, demoCreds, DemoRegion, now.Add(6*time.Minute))
		},
		status: 403, code: "InvalidSignatureException",
		message: "Signature not yet current: 20250301T120600Z is still later than 20250301T120500Z (20250301T120000Z + 5 min.)",
	}, {
		name: "other region",
		request: func() *http.Request {
			return signedRequest(t, srv.URL, path, helloBody, demoCreds, "eu-west-1", now)
		},
		status: 403, code: "InvalidSignatureException", message: "Credential should be scoped to a valid region, not 'eu-west-1'. ",
	}, {
		name: "unknown key",
		request: func() *http.Request {
			creds := aws.Credentials{AccessKeyID: "AKIAOTHER", SecretAccessKey: DemoSecretAccessKey}
			return signedRequest(t, srv.URL, path, helloBody, creds, DemoRegion, now)
		},
		status: 403, code: "UnrecognizedClientException", message: "The security token included in the request is invalid.",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, code, msg := send(t, tc.request())
			if status != tc.status || code != tc.code || msg != tc.message {
				t.Errorf("got %d %s %q\nwant %d %s %q", status, code, msg, tc.status, tc.code, tc.message)
			}
		})
	}
}

func TestRejectedCallsAreRecorded(t *testing.T) {
	emu := New(Options{Keys: DemoKeys()})
	req := httptest.NewRequest(http.MethodPost, "/model/m/converse", strings.NewReader(helloBody))
	emu.ServeHTTP(httptest.NewRecorder(), req)

	calls := emu.Calls()
	if len(calls) != 1 || calls[0].Status != http.StatusForbidden || !strings.HasPrefix(calls[0].Error, "MissingAuthenticationTokenException") {
		t.Fatalf("calls = %+v", calls)
	}
}

func TestSkipAuthStillRecordsTheSigner(t *testing.T) {
	emu, srv := startEmulator(t, Options{SkipAuth: true})
	creds := aws.Credentials{AccessKeyID: "AKIAANY", SecretAccessKey: "whatever"}
	req := signedRequest(t, srv.URL, "/model/m/converse", helloBody, creds, "ap-south-1", time.Now().Add(-time.Hour))
	if status, code, msg := send(t, req); status != http.StatusOK {
		t.Fatalf("%d %s %s", status, code, msg)
	}
	if c := emu.Calls()[0]; c.AccessKeyID != "AKIAANY" || c.Region != "ap-south-1" {
		t.Errorf("recorded signer %q in %q", c.AccessKeyID, c.Region)
	}
}
