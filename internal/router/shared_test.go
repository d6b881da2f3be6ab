package router

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/strata-gateway/strata/internal/limits"
)

// testRedis connects to the Redis server scripts/test starts; a test that
// needs it fails when it is not there.
func testRedis(t *testing.T) *redis.Client {
	t.Helper()
	url := os.Getenv("STRATA_TEST_REDIS_URL")
	if url == "" {
		t.Fatal("STRATA_TEST_REDIS_URL is unset: run the tests with scripts/test, which starts a Redis server")
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis at %s: %v", url, err)
	}
	return c
}

// limiterAdmission is a request's Admission on a limiter, as the server
// makes one: the first deployment picked opens the lease.
type limiterAdmission struct {
	l     *limits.Limiter
	lease *limits.Lease
	calls int
}

func (a *limiterAdmission) AdmitTo(ctx context.Context, d *Deployment) error {
	a.calls++
	dep := &limits.Deployment{ID: d.ID, RPM: int64(d.Policy.RPM), TPM: int64(d.Policy.TPM), MaxParallel: int64(d.Policy.MaxParallel)}
	if a.lease == nil {
		lease, err := a.l.AdmitTo(ctx, nil, d.Name, dep)
		a.lease = lease
		return err
	}
	return a.lease.TakeDeployment(ctx, dep)
}

// Two gateways whose limiters share one Redis share their deployments'
// rpm: each deployment serves its rpm in the minute, whichever gateway
// the requests reach, then both answer 429. A gateway that found a
// deployment full skips it without asking Redis again.
func TestSharedDeploymentRPMAcrossGateways(t *testing.T) {
	c := testRedis(t)
	prefix := fmt.Sprintf("strata-test:%s:%d:", t.Name(), time.Now().UnixNano())
	type gateway struct {
		f *fixture
		l *limits.Limiter
	}
	var gws []gateway
	for range 2 {
		f := newFixture(t, Options{}, dep("m", Policy{RPM: 3}), dep("m", Policy{RPM: 2}))
		l := limits.New(limits.Options{Counter: limits.NewRedis(c, prefix, 2*time.Second), Now: f.clock.Now, CountDeployments: true})
		gws = append(gws, gateway{f, l})
	}
	served := map[string]int{}
	refused := map[int]bool{}
	for i := 0; len(refused) < 2; i++ {
		if i > 20 {
			t.Fatalf("after %d requests, served %v, refused on %v", i, served, refused)
		}
		gw := gws[i%2]
		a := &limiterAdmission{l: gw.l}
		id, _, attempts, err := gw.f.call(t, Request{Model: "m", Admission: a}, nil, Usage{})
		var le *LimitError
		switch {
		case err == nil:
			served[id]++
			if len(attempts) != 1 {
				t.Errorf("served after attempts %v", attempts)
			}
		case errors.As(err, &le):
			refused[i%2] = true
			if len(attempts) != 0 {
				t.Errorf("a refused request reached Bedrock: %v", attempts)
			}
			// The minute of the shared windows ends at 12:01:00.
			if le.RetryAfter() != 50*time.Second {
				t.Errorf("Retry-After %v, want 50s", le.RetryAfter())
			}
		default:
			t.Fatal(err)
		}
	}
	if served["m#1"] != 3 || served["m#2"] != 2 {
		t.Errorf("served %v, want m#1:3 m#2:2, each its rpm over both gateways", served)
	}
	for i, gw := range gws {
		a := &limiterAdmission{l: gw.l}
		if _, _, _, err := gw.f.call(t, Request{Model: "m", Admission: a}, nil, Usage{}); err == nil {
			t.Errorf("gateway %d served past the deployments' rpm", i)
		}
		if a.calls != 0 {
			t.Errorf("gateway %d asked Redis %d times about deployments it knows are full", i, a.calls)
		}
	}
	// The next minute, both serve again.
	for i, gw := range gws {
		gw.f.clock.Advance(50 * time.Second)
		a := &limiterAdmission{l: gw.l}
		if _, _, _, err := gw.f.call(t, Request{Model: "m", Admission: a}, nil, Usage{}); err != nil {
			t.Errorf("gateway %d, next minute: %v", i, err)
		}
	}
}

// An error of the admission's own (the request's limits) ends the request
// at once: no other deployment, no fallback.
func TestAdmissionRefusalEndsTheRequest(t *testing.T) {
	f := newFixture(t, Options{Fallbacks: map[string][]string{"m": {"n"}}}, dep("m", Policy{}), dep("m", Policy{}), dep("n", Policy{}))
	refusal := errors.New("key over its rpm")
	a := refusingAdmission{err: refusal}
	_, _, attempts, err := f.call(t, Request{Model: "m", Admission: &a}, nil, Usage{})
	if !errors.Is(err, refusal) || len(attempts) != 0 || a.calls != 1 {
		t.Errorf("err %v after attempts %v and %d admissions; want the refusal, no attempt, one admission", err, attempts, a.calls)
	}
}

type refusingAdmission struct {
	err   error
	calls int
}

func (a *refusingAdmission) AdmitTo(context.Context, *Deployment) error {
	a.calls++
	return a.err
}

// A deployment's max_parallel_requests, counted in this gateway: at its
// limit the deployment is skipped, when all are the client gets 429 with
// Retry-After 1, and a call's end gives its slot back.
func TestMaxParallelPerDeployment(t *testing.T) {
	f := newFixture(t, Options{}, dep("m", Policy{MaxParallel: 1}), dep("m", Policy{MaxParallel: 1}))
	var open []*Call
	for range 2 {
		c, _, err := f.r.Do(context.Background(), Request{Model: "m"}, func(context.Context, *Call) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
	}
	if open[0].Deployment == open[1].Deployment {
		t.Fatalf("both calls on %s, whose max_parallel_requests is 1", open[0].Deployment.ID)
	}
	_, _, attempts, err := f.call(t, Request{Model: "m"}, nil, Usage{})
	var le *LimitError
	if !errors.As(err, &le) || le.RetryAfter() != time.Second || len(attempts) != 0 {
		t.Fatalf("third call: %v after attempts %v, want a 429 to retry in 1s, no attempt", err, attempts)
	}
	open[1].Finish(Usage{}, nil)
	served, _, _, err := f.call(t, Request{Model: "m"}, nil, Usage{})
	if err != nil || served != open[1].Deployment.ID {
		t.Errorf("after a call ended, served by %q (%v), want %s", served, err, open[1].Deployment.ID)
	}
	// A failed attempt gives its slot back too, and the retry takes the other's.
	open[0].Finish(Usage{}, nil)
	one := 1
	if _, _, _, err := f.call(t, Request{Model: "m", NumRetries: &one}, outcome{"m#1": unavailable}, Usage{}); err != nil {
		t.Fatal(err)
	}
	for _, d := range f.r.Deployments("m") {
		if n := d.state.slots.Load(); n != 0 {
			t.Errorf("%s holds %d slots with no call running", d.ID, n)
		}
	}
}

// A deployment's max_parallel_requests shared through Redis: a slot held
// through one gateway is refused through the other, which does not take
// the deployment for full once the slot is back.
func TestSharedDeploymentParallelAcrossGateways(t *testing.T) {
	c := testRedis(t)
	prefix := fmt.Sprintf("strata-test:%s:%d:", t.Name(), time.Now().UnixNano())
	var fs []*fixture
	var ls []*limits.Limiter
	for range 2 {
		f := newFixture(t, Options{}, dep("m", Policy{MaxParallel: 1}))
		fs = append(fs, f)
		ls = append(ls, limits.New(limits.Options{Counter: limits.NewRedis(c, prefix, 2*time.Second), Now: f.clock.Now, CountDeployments: true}))
	}
	held := &limiterAdmission{l: ls[0]}
	call, _, err := fs[0].r.Do(context.Background(), Request{Model: "m", Admission: held}, func(context.Context, *Call) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	_, _, attempts, err := fs[1].call(t, Request{Model: "m", Admission: &limiterAdmission{l: ls[1]}}, nil, Usage{})
	var le *LimitError
	if !errors.As(err, &le) || le.RetryAfter() != time.Second || len(attempts) != 0 {
		t.Fatalf("the other gateway: %v after attempts %v, want a 429 to retry in 1s", err, attempts)
	}
	call.Finish(Usage{}, nil)
	held.lease.End(context.Background(), 0, 0)
	if _, _, _, err := fs[1].call(t, Request{Model: "m", Admission: &limiterAdmission{l: ls[1]}}, nil, Usage{}); err != nil {
		t.Errorf("the slot given back, still refused: %v", err)
	}
}
