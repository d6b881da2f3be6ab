package bedrock_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/emulator"
)

// These tests run the credential store against the emulator's STS and
// Bedrock: real STS XML through the AWS SDK, temporary credentials checked
// by Bedrock's side. The e2e suite repeats the main cases through the binary.

const (
	stsRegion  = "us-west-2"
	stsRole    = "arn:aws:iam::111122223333:role/bedrock-caller"
	stsModel   = "anthropic.claude-3-haiku-20240307-v1:0"
	goodJWT    = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJzdHMuYW1hem9uYXdzLmNvbSJ9.c2lnbmF0dXJl"
	strangeJWT = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJzb21lb25lLWVsc2UifQ.c2lnbmF0dXJl"
)

type stsFixture struct {
	em    *emulator.Emulator
	url   string
	store *bedrock.CredentialStore
	logs  *syncBuffer
	now   func() time.Time // the clock of the store, the emulator and Bedrock clients
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newSTSFixture(t *testing.T, opts emulator.STSOptions) *stsFixture {
	t.Helper()
	return newSTSFixtureWithClock(t, opts, time.Now)
}

// newSTSFixtureWithClock gives the credential store, the emulator (STS
// expiry, signature times) and the Bedrock clients one clock. The AWS SDK
// signs STS calls with the real time, which the emulator accepts within
// its five minutes of skew, so a test clock stays within that of the real one.
func newSTSFixtureWithClock(t *testing.T, opts emulator.STSOptions, now func() time.Time) *stsFixture {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "AWS_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	em := emulator.New(emulator.Options{Keys: emulator.DemoKeys(), Region: stsRegion, STS: opts, Clock: now})
	srv := httptest.NewServer(em)
	t.Cleanup(srv.Close)
	logs := &syncBuffer{}
	store := bedrock.NewCredentialStore(slog.New(slog.NewTextHandler(logs, nil)))
	store.SetClock(now)
	return &stsFixture{em: em, url: srv.URL, store: store, logs: logs, now: now}
}

// client loads auth as one model entry and returns its Bedrock client.
func (f *stsFixture) client(t *testing.T, auth bedrock.Auth) *bedrock.Client {
	t.Helper()
	auth.Region, auth.STSEndpoint = stsRegion, f.url
	cfg, err := f.store.Load(context.Background(), "m#1", auth)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	c, err := bedrock.NewClient(bedrock.ClientOptions{Region: cfg.Region, Endpoint: f.url, Credentials: cfg.Credentials, Now: f.now})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func converse(ctx context.Context, c *bedrock.Client) error {
	text := "hi"
	_, err := c.Converse(ctx, stsModel, &bedrock.ConverseRequest{
		Messages: []bedrock.Message{{Role: "user", Content: []bedrock.ContentBlock{{Text: &text}}}},
	})
	return err
}

var demoBase = bedrock.Auth{AccessKeyID: emulator.DemoAccessKeyID, SecretAccessKey: emulator.DemoSecretAccessKey}

func TestAssumeRoleOneSTSCallForConcurrentRequests(t *testing.T) {
	f := newSTSFixture(t, emulator.STSOptions{})
	auth := demoBase
	auth.RoleARN, auth.SessionName = stsRole, "gateway"
	c := f.client(t, auth)

	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
		wg.Go(func() { errs <- converse(context.Background(), c) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	calls := f.em.STSCalls()
	if len(calls) != 1 || calls[0].Action != "AssumeRole" || calls[0].RoleSessionName != "gateway" ||
		calls[0].AccessKeyID != emulator.DemoAccessKeyID || calls[0].Region != stsRegion {
		t.Fatalf("STS calls = %+v, want one AssumeRole signed by the base key in the model's region", calls)
	}
	for _, b := range f.em.Calls() {
		if b.AccessKeyID != calls[0].Issued || b.Status != 200 {
			t.Fatalf("Bedrock call signed by %q answered %d (%s)", b.AccessKeyID, b.Status, b.Error)
		}
	}
}

func TestAssumeRoleWithExternalID(t *testing.T) {
	f := newSTSFixture(t, emulator.STSOptions{Roles: map[string]emulator.Role{stsRole: {ExternalID: "ext-42"}}})
	auth := demoBase
	auth.RoleARN, auth.ExternalID = stsRole, "ext-42"
	if err := converse(context.Background(), f.client(t, auth)); err != nil {
		t.Fatal(err)
	}
	auth.ExternalID = "ext-41"
	err := converse(context.Background(), f.client(t, auth))
	var ce *bedrock.CredentialsError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("wrong external id: %v", err)
	}
}

// Role chaining: base credentials that are themselves temporary.
func TestAssumeRoleChained(t *testing.T) {
	f := newSTSFixture(t, emulator.STSOptions{})
	first, err := sts.New(sts.Options{
		Region: stsRegion, BaseEndpoint: aws.String(f.url),
		Credentials: credentials.NewStaticCredentialsProvider(emulator.DemoAccessKeyID, emulator.DemoSecretAccessKey, ""),
	}).AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(stsRole), RoleSessionName: aws.String("first")})
	if err != nil {
		t.Fatal(err)
	}
	auth := bedrock.Auth{
		AccessKeyID: *first.Credentials.AccessKeyId, SecretAccessKey: *first.Credentials.SecretAccessKey,
		SessionToken: *first.Credentials.SessionToken, RoleARN: "arn:aws:iam::444455556666:role/second",
	}
	if err := converse(context.Background(), f.client(t, auth)); err != nil {
		t.Fatal(err)
	}
	calls := f.em.STSCalls()
	if len(calls) != 2 || calls[1].AccessKeyID != *first.Credentials.AccessKeyId || calls[1].Status != 200 {
		t.Fatalf("STS calls = %+v", calls)
	}
}

func TestWebIdentity(t *testing.T) {
	f := newSTSFixture(t, emulator.STSOptions{WebIdentityTokens: []string{goodJWT}})
	if err := converse(context.Background(), f.client(t, bedrock.Auth{RoleARN: stsRole, WebIdentityToken: goodJWT})); err != nil {
		t.Fatal(err)
	}
	err := converse(context.Background(), f.client(t, bedrock.Auth{RoleARN: stsRole, WebIdentityToken: strangeJWT, SessionName: "other"}))
	var ce *bedrock.CredentialsError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "InvalidIdentityToken: Incorrect token audience") {
		t.Fatalf("a token for another audience: %v", err)
	}
	if strings.Contains(err.Error(), strangeJWT) || strings.Contains(f.logs.String(), strangeJWT) {
		t.Error("the token leaked into the error or the log")
	}
	if !strings.Contains(f.logs.String(), "Incorrect token audience") {
		t.Errorf("STS's reason is not in the log:\n%s", f.logs)
	}
}

// Credentials are renewed in the background while requests keep flowing,
// and a failed renewal costs no request: the clock is the test's, so each
// step lands where it is meant to (inside the renewal window, before and
// after the retry delay, past the first credentials' expiry), whatever the
// machine's load.
func TestRenewalUnderLoad(t *testing.T) {
	clock := &fakeClock{now: time.Now().UTC().Truncate(time.Second)}
	// A minute's credentials: renewed from 40 s (a third of the lifetime
	// ahead), handed out until 54 s (a tenth before expiry), a failed
	// renewal retried after 3 s (a twentieth).
	f := newSTSFixtureWithClock(t, emulator.STSOptions{CredentialTTL: time.Minute}, clock.Now)
	auth := demoBase
	auth.RoleARN = stsRole
	c := f.client(t, auth)
	mustConverse(t, c)
	first := f.em.STSCalls()[0].Issued

	clock.Advance(45 * time.Second) // due for renewal, still good
	// Not a retryable error, or the SDK would retry it within the same renewal.
	f.em.FailSTS(1, "AccessDenied", "")
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { mustConverse(t, c) })
	}
	wg.Wait()
	f.store.WaitForFetches()
	if calls := f.em.STSCalls(); len(calls) != 2 || calls[1].Status == 200 {
		t.Fatalf("STS calls %+v: want the first and one refused renewal for 50 requests", calls)
	}
	if !strings.Contains(f.logs.String(), "renewal failed") || !strings.Contains(f.logs.String(), "AccessDenied") {
		t.Errorf("the failed renewal was not logged:\n%s", f.logs)
	}

	clock.Advance(2 * time.Second) // within the retry delay: no new attempt
	mustConverse(t, c)
	f.store.WaitForFetches()
	if n := len(f.em.STSCalls()); n != 2 {
		t.Fatalf("%d STS calls: a renewal was retried before its delay", n)
	}

	clock.Advance(time.Second) // the retry delay is over
	mustConverse(t, c)
	f.store.WaitForFetches()
	calls := f.em.STSCalls()
	if len(calls) != 3 || calls[2].Status != 200 {
		t.Fatalf("STS calls %+v: want the retried renewal to succeed", calls)
	}
	second := calls[2].Issued

	clock.Advance(7 * time.Second) // 55 s: the renewed credentials serve
	mustConverse(t, c)
	clock.Advance(10 * time.Second) // 65 s: the first have expired at Bedrock; the renewed still serve
	mustConverse(t, c)

	bedrockCalls := f.em.Calls()
	for i, b := range bedrockCalls {
		want := first
		if i >= len(bedrockCalls)-2 {
			want = second
		}
		if b.Status != 200 || b.AccessKeyID != want {
			t.Errorf("Bedrock call %d signed by %s answered %d (%s); want %s", i, b.AccessKeyID, b.Status, b.Error, want)
		}
	}
	if n := len(f.em.STSCalls()); n != 3 {
		t.Errorf("%d STS calls, want 3", n)
	}
}

func mustConverse(t *testing.T, c *bedrock.Client) {
	t.Helper()
	if err := converse(context.Background(), c); err != nil {
		t.Errorf("a request failed: %v", err)
	}
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
