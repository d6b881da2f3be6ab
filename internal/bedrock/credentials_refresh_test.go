package bedrock

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
)

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

// fakeSource issues numbered one-hour credentials, or the error set, and
// can hold every call until released.
type fakeSource struct {
	clock *fakeClock
	calls atomic.Int32
	fail  atomic.Pointer[error]
	gate  chan struct{} // nil: answer at once
}

func (s *fakeSource) Retrieve(ctx context.Context) (aws.Credentials, error) {
	n := s.calls.Add(1)
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return aws.Credentials{}, ctx.Err()
		}
	}
	if err := s.fail.Load(); err != nil {
		return aws.Credentials{}, *err
	}
	return aws.Credentials{
		AccessKeyID: "ASIAFAKE" + string(rune('0'+n)), SecretAccessKey: "secret", SessionToken: "token",
		CanExpire: true, Expires: s.clock.Now().Add(time.Hour),
	}, nil
}

func (s *fakeSource) failWith(err error) { s.fail.Store(&err) }
func (s *fakeSource) succeed()           { s.fail.Store(nil) }

func newTestRefresher(t *testing.T, src aws.CredentialsProvider, clock *fakeClock) (*refreshingCredentials, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs}, nil))
	p := newRefreshingCredentials(src, "role arn:aws:iam::111122223333:role/test", log, clock.Now)
	p.addUser("claude#1")
	return p, &logs
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// waitIdle waits for the fetch in flight, if any, to finish. Retrieve
// starts a fetch before it returns, so a renewal it began is seen here.
func waitIdle(t *testing.T, p *refreshingCredentials) {
	t.Helper()
	p.mu.Lock()
	f := p.fetching
	p.mu.Unlock()
	if f != nil {
		<-f.done
	}
}

func mustRetrieve(t *testing.T, p *refreshingCredentials) aws.Credentials {
	t.Helper()
	creds, err := p.Retrieve(context.Background())
	if err != nil {
		t.Fatalf("Retrieve: %v", err)
	}
	return creds
}

func TestRefreshingCredentialsOneFetchForManyWaiters(t *testing.T) {
	clock := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	src := &fakeSource{clock: clock, gate: make(chan struct{})}
	p, _ := newTestRefresher(t, src, clock)

	var wg, waiting sync.WaitGroup
	got := make([]string, 200)
	waiting.Add(len(got))
	p.joined = waiting.Done
	for i := range got {
		wg.Go(func() {
			creds, err := p.Retrieve(context.Background())
			if err != nil {
				t.Error(err)
			}
			got[i] = creds.AccessKeyID
		})
	}
	waiting.Wait() // every caller holds the one fetch in flight
	close(src.gate)
	wg.Wait()
	if n := src.calls.Load(); n != 1 {
		t.Errorf("source called %d times for 200 concurrent callers, want 1", n)
	}
	for _, id := range got {
		if id != "ASIAFAKE1" {
			t.Fatalf("a caller got %q", id)
		}
	}
}

func TestRefreshingCredentialsRenewEarlyWithoutBlocking(t *testing.T) {
	clock := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	src := &fakeSource{clock: clock}
	p, _ := newTestRefresher(t, src, clock)
	first := mustRetrieve(t, p)
	if want := clock.Now().Add(time.Hour - maxSafetyMargin); !first.Expires.Equal(want) {
		t.Errorf("handed out Expires %v, want the end of the safety margin %v", first.Expires, want)
	}

	clock.Advance(54 * time.Minute) // before the renewal window
	mustRetrieve(t, p)
	waitIdle(t, p)
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("renewed %d times before the window", n-1)
	}

	clock.Advance(2 * time.Minute) // inside the window: renew in the background
	src.gate = make(chan struct{})
	if got := mustRetrieve(t, p); got.AccessKeyID != "ASIAFAKE1" {
		t.Errorf("during the renewal got %q, want the current credentials at once", got.AccessKeyID)
	}
	mustRetrieve(t, p) // joins nothing, starts nothing
	close(src.gate)
	waitIdle(t, p)
	if n := src.calls.Load(); n != 2 {
		t.Errorf("source called %d times, want 2", n)
	}
	if got := mustRetrieve(t, p); got.AccessKeyID != "ASIAFAKE2" {
		t.Errorf("after the renewal got %q", got.AccessKeyID)
	}
}

func TestRefreshingCredentialsFailedRenewalKeepsServing(t *testing.T) {
	clock := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	src := &fakeSource{clock: clock}
	p, logs := newTestRefresher(t, src, clock)
	mustRetrieve(t, p)

	src.failWith(errors.New("api error Throttling: Rate exceeded"))
	clock.Advance(56 * time.Minute)
	if got := mustRetrieve(t, p); got.AccessKeyID != "ASIAFAKE1" {
		t.Fatalf("got %q", got.AccessKeyID)
	}
	waitIdle(t, p)
	if !strings.Contains(logs.String(), "renewal failed") || !strings.Contains(logs.String(), "Rate exceeded") ||
		!strings.Contains(logs.String(), "claude#1") {
		t.Errorf("the failure was not logged with its reason and model: %s", logs)
	}

	// Before the retry delay: no new attempt, still the old credentials.
	mustRetrieve(t, p)
	waitIdle(t, p)
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("source called %d times, want 2 (no retry before the delay)", n)
	}

	clock.Advance(maxRetryDelay)
	src.succeed()
	if got := mustRetrieve(t, p); got.AccessKeyID != "ASIAFAKE1" {
		t.Errorf("during the retry got %q", got.AccessKeyID)
	}
	waitIdle(t, p)
	if got := mustRetrieve(t, p); got.AccessKeyID != "ASIAFAKE3" {
		t.Errorf("after the retry got %q", got.AccessKeyID)
	}
}

func TestRefreshingCredentialsFailWhenNothingGoodIsLeft(t *testing.T) {
	clock := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	src := &fakeSource{clock: clock}
	p, logs := newTestRefresher(t, src, clock)
	mustRetrieve(t, p)

	src.failWith(errors.New("api error InvalidIdentityToken: Incorrect token audience"))
	clock.Advance(time.Hour - maxSafetyMargin) // inside the safety margin: no longer handed out
	_, err := p.Retrieve(context.Background())
	if err == nil || !strings.Contains(err.Error(), "Incorrect token audience") || !strings.Contains(err.Error(), "role arn:aws:iam::111122223333:role/test") {
		t.Fatalf("err = %v, want STS's reason and the identity", err)
	}
	if !strings.Contains(logs.String(), "could not get AWS credentials") {
		t.Errorf("not logged: %s", logs)
	}
	// The next request tries again at once: it has nothing else to use.
	src.succeed()
	if got := mustRetrieve(t, p); got.AccessKeyID != "ASIAFAKE3" {
		t.Errorf("got %q", got.AccessKeyID)
	}
}

func TestRefreshingCredentialsCallerGivingUpDoesNotCancelTheFetch(t *testing.T) {
	clock := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	src := &fakeSource{clock: clock, gate: make(chan struct{})}
	p, _ := newTestRefresher(t, src, clock)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Retrieve(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	done := make(chan aws.Credentials)
	go func() { done <- mustRetrieve(t, p) }()
	close(src.gate)
	if got := <-done; got.AccessKeyID != "ASIAFAKE1" {
		t.Errorf("got %q", got.AccessKeyID)
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("source called %d times, want 1", n)
	}
}

func TestRefreshingCredentialsStaticFetchedOnce(t *testing.T) {
	clock := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	var calls atomic.Int32
	p, _ := newTestRefresher(t, aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		calls.Add(1)
		return aws.Credentials{AccessKeyID: "AKIA", SecretAccessKey: "s"}, nil
	}), clock)
	for range 3 {
		mustRetrieve(t, p)
		clock.Advance(24 * time.Hour)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("static credentials fetched %d times", n)
	}
}

// A source behind the SDK's own cache is made to fetch anew on renewal;
// otherwise the cache would hand back what is already held.
func TestRefreshingCredentialsInvalidatesSDKCache(t *testing.T) {
	clock := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	src := &fakeSource{clock: clock}
	p, _ := newTestRefresher(t, aws.NewCredentialsCache(src), clock)
	mustRetrieve(t, p)
	clock.Advance(56 * time.Minute)
	mustRetrieve(t, p)
	waitIdle(t, p)
	if got := mustRetrieve(t, p); got.AccessKeyID != "ASIAFAKE2" {
		t.Errorf("after renewal got %q: the SDK cache answered instead of the source", got.AccessKeyID)
	}
}

func TestRefreshingCredentialsRejectsUnusableAnswers(t *testing.T) {
	clock := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	for name, creds := range map[string]aws.Credentials{
		"no keys": {},
		"expired": {AccessKeyID: "ASIA", SecretAccessKey: "s", CanExpire: true, Expires: clock.Now().Add(-time.Second)},
	} {
		t.Run(name, func(t *testing.T) {
			p, _ := newTestRefresher(t, aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }), clock)
			if _, err := p.Retrieve(context.Background()); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// The timing rules follow the credentials' lifetime, so short-lived ones
// are renewed and retried on the same rhythm as hour-long ones.
func TestRefreshingCredentialsWindowsScaleWithLifetime(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &refreshingCredentials{current: aws.Credentials{CanExpire: true, Expires: start.Add(6 * time.Second)}, fetchedAt: start}
	if got := p.usableUntil(); !got.Equal(start.Add(5400 * time.Millisecond)) {
		t.Errorf("6s credentials usable until +%v, want +5.4s", got.Sub(start))
	}
	if p.renewalDue(start.Add(3900*time.Millisecond)) || !p.renewalDue(start.Add(4*time.Second)) {
		t.Error("6s credentials should be renewed from +4s")
	}
	if got := p.retryDelay(); got != 300*time.Millisecond {
		t.Errorf("retry delay %v, want 300ms", got)
	}
}

// A credential_process that prints broken JSON must not get its output,
// which may hold secrets, into errors or logs; the AWS SDK quotes it.
func TestRefreshingCredentialsHideCredentialProcessOutput(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	const secret = "process-secret-never-printed"
	script := filepath.Join(t.TempDir(), "creds.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho '{\"Version\": 1, \"SecretAccessKey\": \""+secret+"\"'\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	p, logs := newTestRefresher(t, aws.NewCredentialsCache(processcreds.NewProvider(script)), clock)
	_, err := p.Retrieve(context.Background())
	if err == nil || !strings.Contains(err.Error(), "credential_process") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
		t.Errorf("the process output leaked:\n%v\n%s", err, logs)
	}
}
