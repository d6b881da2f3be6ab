package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
)

const (
	testRoleARN  = "arn:aws:iam::111122223333:role/bedrock-caller"
	goodJWT      = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJzdHMuYW1hem9uYXdzLmNvbSJ9.c2lnbmF0dXJl"
	otherAudJWT  = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJzb21lb25lLWVsc2UifQ.c2lnbmF0dXJl"
	testExternal = "ext-7731"
)

// stsClient is the official AWS SDK's STS client pointed at the emulator,
// retries off so each call is one request.
func stsClient(srv *httptest.Server, creds aws.CredentialsProvider) *sts.Client {
	return sts.New(sts.Options{
		Region:       DemoRegion,
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  creds,
		Retryer:      aws.NopRetryer{},
	})
}

func demoSTS(srv *httptest.Server) *sts.Client {
	return stsClient(srv, credentials.NewStaticCredentialsProvider(DemoAccessKeyID, DemoSecretAccessKey, ""))
}

func assumeRole(t *testing.T, client *sts.Client) *ststypes.Credentials {
	t.Helper()
	out, err := client.AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String(testRoleARN), RoleSessionName: aws.String("strata-test"),
	})
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	return out.Credentials
}

func tempCreds(c *ststypes.Credentials) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)
}

// Credentials from AssumeRole work on Bedrock, and say whose they are.
func TestSTSAssumeRoleCredentialsWorkOnBedrock(t *testing.T) {
	emu, srv := startEmulator(t, Options{Region: DemoRegion})
	creds := assumeRole(t, demoSTS(srv))

	if !strings.HasPrefix(*creds.AccessKeyId, "ASIA") || *creds.SessionToken == "" || *creds.SecretAccessKey == "" {
		t.Errorf("issued %q with token %q", *creds.AccessKeyId, *creds.SessionToken)
	}
	if left := time.Until(*creds.Expiration); left < 59*time.Minute || left > time.Hour {
		t.Errorf("expires in %v, want the hour STS gives by default", left)
	}

	who, err := stsClient(srv, tempCreds(creds)).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	if *who.Arn != "arn:aws:sts::111122223333:assumed-role/bedrock-caller/strata-test" || *who.Account != "111122223333" ||
		!strings.HasSuffix(*who.UserId, ":strata-test") {
		t.Errorf("caller = %s %s %s", *who.Arn, *who.Account, *who.UserId)
	}

	bedrock := bedrockruntime.New(sdkClient(srv, "", "").Options(), func(o *bedrockruntime.Options) { o.Credentials = tempCreds(creds) })
	in := &bedrockruntime.ConverseInput{ModelId: aws.String(testModel), Messages: userText("hi")}
	if _, err := bedrock.Converse(context.Background(), in); err != nil {
		t.Fatalf("Converse with assumed-role credentials: %v", err)
	}
	if c := lastBedrockCall(t, emu); c.AccessKeyID != *creds.AccessKeyId {
		t.Errorf("Bedrock saw key %q", c.AccessKeyID)
	}

	forged := bedrockruntime.New(bedrock.Options(), func(o *bedrockruntime.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(*creds.AccessKeyId, *creds.SecretAccessKey, "forged-token")
	})
	_, err = forged.Converse(context.Background(), in)
	assertAPIError(t, err, http.StatusForbidden, "UnrecognizedClientException")

	calls := emu.STSCalls()
	if len(calls) != 2 || calls[0].Action != "AssumeRole" || calls[0].AccessKeyID != DemoAccessKeyID ||
		calls[0].Region != DemoRegion || calls[0].Issued != *creds.AccessKeyId || calls[1].Action != "GetCallerIdentity" {
		t.Errorf("STS calls = %+v", calls)
	}
}

func lastBedrockCall(t *testing.T, emu *Emulator) Call {
	t.Helper()
	calls := emu.Calls()
	if len(calls) == 0 {
		t.Fatal("no Bedrock call")
	}
	return calls[len(calls)-1]
}

// Issued credentials stop working when they expire, on Bedrock and on STS.
func TestSTSCredentialsExpire(t *testing.T) {
	var skew atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	_, srv := startEmulator(t, Options{Clock: clock, STS: STSOptions{CredentialTTL: 15 * time.Minute}})
	creds := assumeRole(t, demoSTS(srv))
	if left := time.Until(*creds.Expiration); left > 15*time.Minute || left < 14*time.Minute {
		t.Errorf("expires in %v, want the configured 15 min", left)
	}
	skew.Store(int64(16 * time.Minute))

	bedrock := bedrockruntime.New(sdkClient(srv, "", "").Options(), func(o *bedrockruntime.Options) { o.Credentials = tempCreds(creds) })
	_, err := bedrock.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(testModel), Messages: userText("hi")})
	assertAPIError(t, err, http.StatusForbidden, "ExpiredTokenException")

	_, err = stsClient(srv, tempCreds(creds)).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	assertAPIError(t, err, http.StatusForbidden, "ExpiredToken")
}

// Role chaining: temporary credentials may assume another role.
func TestSTSRoleChaining(t *testing.T) {
	emu, srv := startEmulator(t, Options{})
	first := assumeRole(t, demoSTS(srv))
	second := assumeRole(t, stsClient(srv, tempCreds(first)))
	if *second.AccessKeyId == *first.AccessKeyId {
		t.Fatal("the chained role got the same credentials")
	}
	if c := emu.STSCalls()[1]; c.AccessKeyID != *first.AccessKeyId || c.Status != http.StatusOK {
		t.Errorf("second AssumeRole signed by %q: %d %s", c.AccessKeyID, c.Status, c.Error)
	}
}

func TestSTSAssumeRoleRejections(t *testing.T) {
	roles := map[string]Role{testRoleARN: {ExternalID: testExternal}}
	for _, tc := range []struct {
		name                  string
		key, secret, region   string
		role, session, extID  string
		status                int
		code, messageContains string
	}{
		{"wrong secret", DemoAccessKeyID, "wrong", DemoRegion, testRoleARN, "s1", testExternal, 403, "SignatureDoesNotMatch", "signature we calculated"},
		{"unknown key", "AKIAUNKNOWN000000000", DemoSecretAccessKey, DemoRegion, testRoleARN, "s1", testExternal, 403, "InvalidClientTokenId", "security token included in the request is invalid"},
		{"wrong region", DemoAccessKeyID, DemoSecretAccessKey, "eu-west-1", testRoleARN, "s1", testExternal, 403, "SignatureDoesNotMatch", "valid region"},
		{"no external id", DemoAccessKeyID, DemoSecretAccessKey, DemoRegion, testRoleARN, "s1", "", 403, "AccessDenied", "not authorized to perform: sts:AssumeRole on resource: " + testRoleARN},
		{"wrong external id", DemoAccessKeyID, DemoSecretAccessKey, DemoRegion, testRoleARN, "s1", "ext-0000", 403, "AccessDenied", "sts:AssumeRole"},
		{"unknown role", DemoAccessKeyID, DemoSecretAccessKey, DemoRegion, "arn:aws:iam::111122223333:role/other", "s1", testExternal, 403, "AccessDenied", "sts:AssumeRole"},
		{"bad session name", DemoAccessKeyID, DemoSecretAccessKey, DemoRegion, testRoleARN, "has space", testExternal, 400, "ValidationError", "roleSessionName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu, srv := startEmulator(t, Options{Region: DemoRegion, STS: STSOptions{Roles: roles}})
			client := sts.New(demoSTS(srv).Options(), func(o *sts.Options) {
				o.Region = tc.region
				o.Credentials = credentials.NewStaticCredentialsProvider(tc.key, tc.secret, "")
			})
			in := &sts.AssumeRoleInput{RoleArn: aws.String(tc.role), RoleSessionName: aws.String(tc.session)}
			if tc.extID != "" {
				in.ExternalId = aws.String(tc.extID)
			}
			_, err := client.AssumeRole(context.Background(), in)
			assertAPIError(t, err, tc.status, tc.code)
			if err != nil && !strings.Contains(err.Error(), tc.messageContains) {
				t.Errorf("error %q lacks %q", err, tc.messageContains)
			}
			if c := emu.STSCalls(); len(c) != 1 || c[0].Status != tc.status || !strings.HasPrefix(c[0].Error, tc.code) {
				t.Errorf("recorded %+v", c)
			}
		})
	}
	t.Run("right external id", func(t *testing.T) {
		_, srv := startEmulator(t, Options{STS: STSOptions{Roles: roles}})
		_, err := demoSTS(srv).AssumeRole(context.Background(), &sts.AssumeRoleInput{
			RoleArn: aws.String(testRoleARN), RoleSessionName: aws.String("s1"), ExternalId: aws.String(testExternal),
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// AssumeRoleWithWebIdentity is unsigned; the token decides, and a token for
// another audience fails with STS's own reason, which the SDK surfaces.
func TestSTSWebIdentity(t *testing.T) {
	emu, srv := startEmulator(t, Options{STS: STSOptions{WebIdentityTokens: []string{goodJWT}}})
	client := stsClient(srv, aws.AnonymousCredentials{})
	in := func(token string) *sts.AssumeRoleWithWebIdentityInput {
		return &sts.AssumeRoleWithWebIdentityInput{
			RoleArn: aws.String(testRoleARN), RoleSessionName: aws.String("web"), WebIdentityToken: aws.String(token),
		}
	}
	out, err := client.AssumeRoleWithWebIdentity(context.Background(), in(goodJWT))
	if err != nil {
		t.Fatalf("good token: %v", err)
	}
	if *out.AssumedRoleUser.Arn != "arn:aws:sts::111122223333:assumed-role/bedrock-caller/web" || *out.Audience == "" || *out.Provider == "" {
		t.Errorf("result = %+v", out)
	}
	bedrock := bedrockruntime.New(sdkClient(srv, "", "").Options(), func(o *bedrockruntime.Options) { o.Credentials = tempCreds(out.Credentials) })
	if _, err := bedrock.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(testModel), Messages: userText("hi")}); err != nil {
		t.Fatalf("Converse with web identity credentials: %v", err)
	}

	_, err = client.AssumeRoleWithWebIdentity(context.Background(), in(otherAudJWT))
	var bad *ststypes.InvalidIdentityTokenException
	if !errors.As(err, &bad) || bad.ErrorMessage() != "Incorrect token audience" {
		t.Fatalf("other audience: %v", err)
	}
	if c := emu.STSCalls(); len(c) != 2 || c[0].AccessKeyID != "" || c[1].Status != http.StatusBadRequest {
		t.Errorf("recorded %+v", c)
	}
}

// FailSTS fails the next calls with the code given, then STS answers again.
func TestSTSQueuedFailures(t *testing.T) {
	emu, srv := startEmulator(t, Options{})
	emu.FailSTS(1, "Throttling", "")
	_, err := demoSTS(srv).AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(testRoleARN), RoleSessionName: aws.String("s")})
	assertAPIError(t, err, http.StatusBadRequest, "Throttling")
	assumeRole(t, demoSTS(srv))
	if n := len(emu.STSCalls()); n != 2 {
		t.Errorf("STS calls = %d", n)
	}
	emu.Reset()
	if n := len(emu.STSCalls()); n != 0 {
		t.Errorf("Reset kept %d STS calls", n)
	}
}

// The wire shapes, checked without an SDK: what a hand-written client or a
// different SDK version would parse.
func TestSTSWireShapes(t *testing.T) {
	_, srv := startEmulator(t, Options{STS: STSOptions{WebIdentityTokens: []string{goodJWT}}})
	post := func(form string) (int, http.Header, []byte) {
		resp, err := http.Post(srv.URL+"/", "application/x-www-form-urlencoded; charset=utf-8", strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, body
	}

	status, hdr, body := post("Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" + testRoleARN +
		"&RoleSessionName=web&WebIdentityToken=" + goodJWT)
	var ok struct {
		XMLName xml.Name
		Result  struct {
			Credentials     struct{ AccessKeyId, SecretAccessKey, SessionToken, Expiration string }
			AssumedRoleUser struct{ Arn, AssumedRoleId string }
		} `xml:"AssumeRoleWithWebIdentityResult"`
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}
	if err := xml.Unmarshal(body, &ok); err != nil || status != 200 {
		t.Fatalf("%d %s: %v", status, body, err)
	}
	if ok.XMLName.Space != stsNamespace || ok.XMLName.Local != "AssumeRoleWithWebIdentityResponse" ||
		ok.RequestID == "" || ok.RequestID != hdr.Get("X-Amzn-RequestId") || !strings.HasPrefix(hdr.Get("Content-Type"), "text/xml") {
		t.Errorf("envelope %v request id %q header %v", ok.XMLName, ok.RequestID, hdr)
	}
	if _, err := time.Parse(time.RFC3339, ok.Result.Credentials.Expiration); err != nil || ok.Result.Credentials.SessionToken == "" {
		t.Errorf("credentials %+v", ok.Result.Credentials)
	}

	status, _, body = post("Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" + testRoleARN +
		"&RoleSessionName=web&WebIdentityToken=" + otherAudJWT)
	var fail struct {
		XMLName   xml.Name
		Error     struct{ Type, Code, Message string }
		RequestID string `xml:"RequestId"`
	}
	if err := xml.Unmarshal(body, &fail); err != nil || status != 400 {
		t.Fatalf("%d %s: %v", status, body, err)
	}
	if fail.XMLName.Local != "ErrorResponse" || fail.Error.Type != "Sender" || fail.Error.Code != "InvalidIdentityToken" ||
		fail.Error.Message != "Incorrect token audience" || fail.RequestID == "" {
		t.Errorf("error response %+v", fail)
	}

	status, _, body = post("Action=GetSessionToken&Version=2011-06-15")
	if status != 400 || !bytes.Contains(body, []byte("<Code>InvalidAction</Code>")) {
		t.Errorf("unknown action: %d %s", status, body)
	}
	status, _, body = post("Action=GetCallerIdentity&Version=2011-06-15")
	if status != 403 || !bytes.Contains(body, []byte("<Code>MissingAuthenticationToken</Code>")) {
		t.Errorf("unsigned GetCallerIdentity: %d %s", status, body)
	}
}

// boto3 (botocore's own signer and XML parser) agrees with the emulator's STS.
const boto3STSScript = `
import json, sys
import boto3
from botocore.config import Config

url, key, secret, region, role, token = sys.argv[1:7]
cfg = Config(retries={"max_attempts": 1})
sts = boto3.client("sts", endpoint_url=url, region_name=region,
    aws_access_key_id=key, aws_secret_access_key=secret, config=cfg)
creds = sts.assume_role(RoleArn=role, RoleSessionName="boto3")["Credentials"]
temp = boto3.client("sts", endpoint_url=url, region_name=region, config=cfg,
    aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
    aws_session_token=creds["SessionToken"])
result = {"arn": temp.get_caller_identity()["Arn"]}
try:
    sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="boto3", WebIdentityToken=token)
except sts.exceptions.InvalidIdentityTokenException as e:
    result["webIdentityError"] = e.response["Error"]["Code"] + ": " + e.response["Error"]["Message"]
print(json.dumps(result))
`

func TestSTSBoto3CrossCheck(t *testing.T) {
	_, srv := startEmulator(t, Options{Region: DemoRegion, STS: STSOptions{WebIdentityTokens: []string{goodJWT}}})
	out := runBoto3(t, boto3STSScript, srv.URL, DemoAccessKeyID, DemoSecretAccessKey, DemoRegion, testRoleARN, otherAudJWT)
	var got struct {
		Arn              string
		WebIdentityError string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("boto3 output %q: %v", out, err)
	}
	if got.Arn != "arn:aws:sts::111122223333:assumed-role/bedrock-caller/boto3" {
		t.Errorf("caller arn = %q", got.Arn)
	}
	if got.WebIdentityError != "InvalidIdentityToken: Incorrect token audience" {
		t.Errorf("web identity error = %q", got.WebIdentityError)
	}
}
