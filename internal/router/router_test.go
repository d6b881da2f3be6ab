package router

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/metrics"
	"github.com/strata-gateway/strata/internal/openai"
)

// clock is a fake time source that moves only when told to.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 12, 0, 10, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sleeps records backoffs instead of waiting.
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return ctx.Err()
}

func seeded(seed uint64) func() float64 {
	return rand.New(rand.NewPCG(seed, seed+1)).Float64
}

type fixture struct {
	r      *Router
	clock  *clock
	sleeps *sleeps
	reg    *prometheus.Registry
	byID   map[string]*Deployment
}

// deployments builds deployments from "name:policy" pairs in order; IDs
// are "<name>#<n>".
func newFixture(t *testing.T, opts Options, specs ...spec) *fixture {
	t.Helper()
	f := &fixture{clock: newClock(), sleeps: &sleeps{}, reg: prometheus.NewPedanticRegistry(), byID: map[string]*Deployment{}}
	m, err := metrics.New(f.reg)
	if err != nil {
		t.Fatal(err)
	}
	opts.Metrics, opts.Now, opts.Sleep = m, f.clock.Now, f.sleeps.Sleep
	if opts.Rand == nil {
		opts.Rand = seeded(1)
	}
	seen := map[string]int{}
	var ds []*Deployment
	for _, s := range specs {
		seen[s.name]++
		d := &Deployment{Name: s.name, ID: fmt.Sprintf("%s#%d", s.name, seen[s.name]), Policy: s.policy}
		f.byID[d.ID] = d
		ds = append(ds, d)
	}
	f.r, err = New(ds, opts)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

type spec struct {
	name   string
	policy Policy
}

func dep(name string, p Policy) spec { return spec{name, p} }

// outcome scripts what each deployment answers, by ID; missing IDs succeed.
type outcome map[string]error

// call runs one request to its end and returns who served it.
func (f *fixture) call(t *testing.T, req Request, fails outcome, usage Usage) (served string, tally Tally, attempts []string, err error) {
	t.Helper()
	c, tally, err := f.r.Do(context.Background(), req, func(ctx context.Context, c *Call) error {
		attempts = append(attempts, c.Deployment.ID)
		return fails[c.Deployment.ID]
	})
	if err != nil {
		return "", tally, attempts, err
	}
	c.Finish(usage, nil)
	return c.Deployment.ID, tally, attempts, nil
}

var (
	throttled   = &bedrock.APIError{Status: 429, Code: "ThrottlingException", Message: "Too many requests, please wait before trying again."}
	unavailable = &bedrock.APIError{Status: 503, Code: "ServiceUnavailableException", Message: "Bedrock is unable to process your request."}
	invalid     = &bedrock.APIError{Status: 400, Code: "ValidationException", Message: "messages: field required"}
	tooLong     = &bedrock.APIError{Status: 400, Code: "ValidationException", Message: "Input is too long for requested model."}
	filtered    = &bedrock.APIError{Status: 400, Code: "ValidationException", Message: "Output blocked by content filtering policy."}
	denied      = &bedrock.APIError{Status: 403, Code: "AccessDeniedException", Message: "You don't have access to the model with the specified model ID."}
)

func counts(t *testing.T, f *fixture, n int, req Request) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		id, _, _, err := f.call(t, req, nil, Usage{})
		if err != nil {
			t.Fatal(err)
		}
		got[id]++
	}
	return got
}

func assertShare(t *testing.T, got map[string]int, n int, want map[string]float64) {
	t.Helper()
	for id, share := range want {
		if diff := math.Abs(float64(got[id])/float64(n) - share); diff > 0.02 {
			t.Errorf("%s served %d of %d (%.3f), want %.3f: %v", id, got[id], n, float64(got[id])/float64(n), share, got)
		}
	}
}

func TestShuffleSpreadsByWeight(t *testing.T) {
	f := newFixture(t, Options{}, dep("m", Policy{Weight: 1}), dep("m", Policy{Weight: 3}), dep("m", Policy{Weight: 6}))
	const n = 20000
	assertShare(t, counts(t, f, n, Request{Model: "m"}), n, map[string]float64{"m#1": 0.1, "m#2": 0.3, "m#3": 0.6})
}

func TestShuffleWeighsByRPMWhenNoWeight(t *testing.T) {
	// rpm high enough never to be reached: it only weighs here.
	f := newFixture(t, Options{}, dep("m", Policy{RPM: 100000}), dep("m", Policy{RPM: 300000}))
	const n = 20000
	assertShare(t, counts(t, f, n, Request{Model: "m"}), n, map[string]float64{"m#1": 0.25, "m#2": 0.75})
}

func TestShuffleIsEvenWithoutWeights(t *testing.T) {
	f := newFixture(t, Options{}, dep("m", Policy{}), dep("m", Policy{}))
	const n = 20000
	assertShare(t, counts(t, f, n, Request{Model: "m"}), n, map[string]float64{"m#1": 0.5, "m#2": 0.5})
}

func TestLeastBusyPicksFewestInFlight(t *testing.T) {
	f := newFixture(t, Options{Strategy: LeastBusy}, dep("m", Policy{}), dep("m", Policy{}), dep("m", Policy{}))
	// Open calls without finishing them: each goes where fewest are in flight.
	var open []*Call
	perDeployment := map[string]int{}
	for range 9 {
		c, _, err := f.r.Do(context.Background(), Request{Model: "m"}, func(context.Context, *Call) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
		perDeployment[c.Deployment.ID]++
	}
	for id, n := range perDeployment {
		if n != 3 {
			t.Errorf("%s has %d calls in flight, want 3 each: %v", id, n, perDeployment)
		}
	}
	// Finish m#2's calls: the next two go there.
	for _, c := range open {
		if c.Deployment.ID == "m#2" {
			c.Finish(Usage{}, nil)
		}
	}
	for range 2 {
		c, _, _ := f.r.Do(context.Background(), Request{Model: "m"}, func(context.Context, *Call) error { return nil })
		if c.Deployment.ID != "m#2" {
			t.Errorf("picked %s, want the idle m#2", c.Deployment.ID)
		}
	}
}

func TestLatencyBasedPicksFastest(t *testing.T) {
	f := newFixture(t, Options{Strategy: LatencyBased}, dep("m", Policy{}), dep("m", Policy{}))
	latency := map[string]time.Duration{"m#1": 800 * time.Millisecond, "m#2": 200 * time.Millisecond}
	slowAnswer := func(ctx context.Context, c *Call) error {
		f.clock.Advance(latency[c.Deployment.ID])
		return nil
	}
	// Unmeasured deployments score zero, so both get measured first.
	first := map[string]bool{}
	for range 2 {
		c, _, _ := f.r.Do(context.Background(), Request{Model: "m"}, slowAnswer)
		c.Finish(Usage{}, nil)
		first[c.Deployment.ID] = true
	}
	if len(first) != 2 {
		t.Fatalf("the first two calls went to %v, want one each", first)
	}
	for range 10 {
		c, _, _ := f.r.Do(context.Background(), Request{Model: "m"}, slowAnswer)
		c.Finish(Usage{}, nil)
		if c.Deployment.ID != "m#2" {
			t.Fatalf("picked %s, want the faster m#2", c.Deployment.ID)
		}
	}
	// Streams compare time to first token, measured apart from whole answers.
	ttft := map[string]time.Duration{"m#1": 50 * time.Millisecond, "m#2": 900 * time.Millisecond}
	stream := func(ctx context.Context, c *Call) error {
		f.clock.Advance(ttft[c.Deployment.ID])
		c.FirstToken()
		return nil
	}
	for range 2 {
		c, _, _ := f.r.Do(context.Background(), Request{Model: "m", Stream: true}, stream)
		c.Finish(Usage{}, nil)
	}
	c, _, _ := f.r.Do(context.Background(), Request{Model: "m", Stream: true}, stream)
	c.Finish(Usage{}, nil)
	if c.Deployment.ID != "m#1" {
		t.Errorf("stream picked %s, want m#1, first to answer", c.Deployment.ID)
	}
}

func TestUsageBasedPicksLowestShareOfTPM(t *testing.T) {
	f := newFixture(t, Options{Strategy: UsageBased}, dep("m", Policy{TPM: 10000}), dep("m", Policy{TPM: 40000}))
	// 2000 tokens is 20% of m#1 but 5% of m#2, so m#2 keeps winning until it
	// has used four times as much.
	got := map[string]int{}
	for range 50 {
		id, _, _, err := f.call(t, Request{Model: "m"}, nil, Usage{InputTokens: 150, OutputTokens: 50})
		if err != nil {
			t.Fatal(err)
		}
		got[id]++
	}
	if got["m#1"] != 10 || got["m#2"] != 40 {
		t.Errorf("calls %v, want m#1:10 m#2:40 (tokens in proportion to tpm)", got)
	}
}

func TestRPMLimitSkipsThenAnswers429WithRetryAfter(t *testing.T) {
	f := newFixture(t, Options{}, dep("m", Policy{RPM: 2}), dep("m", Policy{RPM: 1}))
	got := counts(t, f, 3, Request{Model: "m"})
	if got["m#1"] != 2 || got["m#2"] != 1 {
		t.Fatalf("calls %v, want each up to its rpm", got)
	}
	_, _, attempts, err := f.call(t, Request{Model: "m"}, nil, Usage{})
	var oe *openai.Error
	var le *LimitError
	if !errors.As(err, &oe) || oe.Status != http.StatusTooManyRequests || !errors.As(err, &le) {
		t.Fatalf("err = %v, want a 429 carrying a *LimitError", err)
	}
	if len(attempts) != 0 {
		t.Errorf("a call at the limit reached Bedrock: %v", attempts)
	}
	// All three calls were made at 12:00:10: they leave the minute at 12:01:10.
	if got, want := le.RetryAfter(), time.Minute; got != want {
		t.Errorf("Retry-After %v, want %v", got, want)
	}
	f.clock.Advance(le.RetryAfter())
	if _, _, _, err := f.call(t, Request{Model: "m"}, nil, Usage{}); err != nil {
		t.Errorf("after Retry-After: %v", err)
	}
}

func TestTPMLimitSkipsDeploymentThatUsedItsTokens(t *testing.T) {
	f := newFixture(t, Options{}, dep("m", Policy{TPM: 1000, Weight: 100}), dep("m", Policy{Weight: 1}))
	// Mostly m#1 by weight, until its 1000 tokens are spent.
	spent := 0
	for spent < 1000 {
		id, _, _, err := f.call(t, Request{Model: "m"}, nil, Usage{InputTokens: 100, OutputTokens: 100})
		if err != nil {
			t.Fatal(err)
		}
		if id == "m#1" {
			spent += 200
		}
	}
	for range 20 {
		if id, _, _, _ := f.call(t, Request{Model: "m"}, nil, Usage{}); id != "m#2" {
			t.Fatalf("picked %s after it used its tpm", id)
		}
	}
	f.clock.Advance(2 * time.Minute)
	got := counts(t, f, 50, Request{Model: "m"})
	if got["m#1"] == 0 {
		t.Error("m#1 never came back after a quiet minute")
	}
}

func TestThrottledDeploymentCoolsDownAndTrafficMoves(t *testing.T) {
	cooldown := 30 * time.Second
	f := newFixture(t, Options{NumRetries: 1, CooldownTime: &cooldown}, dep("m", Policy{Weight: 9}), dep("m", Policy{Weight: 1}))
	fails := outcome{"m#1": throttled}
	// The first call to m#1 is throttled; the retry lands on m#2.
	for {
		served, tally, attempts, err := f.call(t, Request{Model: "m"}, fails, Usage{})
		if err != nil {
			t.Fatal(err)
		}
		if attempts[0] == "m#1" {
			if served != "m#2" || tally.Retries != 1 {
				t.Fatalf("served by %s after %d retries, want m#2 after 1", served, tally.Retries)
			}
			break
		}
	}
	// A single 429 cooled m#1: it gets nothing, whatever its weight.
	for range 50 {
		_, _, attempts, _ := f.call(t, Request{Model: "m"}, fails, Usage{})
		if attempts[0] != "m#2" {
			t.Fatalf("a call went to m#1 while it cooled down: %v", attempts)
		}
	}
	if got := f.value(t, "strata_deployment_cooldowns_total", "model_name", "m", "deployment", "m#1"); got != 1 {
		t.Errorf("strata_deployment_cooldowns_total{m#1} = %v, want 1", got)
	}
	f.clock.Advance(cooldown)
	got := counts(t, f, 50, Request{Model: "m"})
	if got["m#1"] == 0 {
		t.Errorf("m#1 did not come back after cooldown_time: %v", got)
	}
}

func TestCooldownAfterMoreThanAllowedFailsInAMinute(t *testing.T) {
	allowed := 2
	f := newFixture(t, Options{AllowedFails: &allowed}, dep("m", Policy{Weight: 1}), dep("m", Policy{Weight: 0.000001}))
	fails := outcome{"m#1": unavailable}
	fail := func() {
		t.Helper()
		_, _, attempts, err := f.call(t, Request{Model: "m"}, fails, Usage{})
		if attempts[0] != "m#1" || err == nil {
			t.Fatalf("attempts %v err %v: want m#1 to fail", attempts, err)
		}
	}
	fail()
	fail()
	if cooling, _ := f.r.CoolingDown(f.byID["m#1"]); cooling {
		t.Fatal("cooled down after allowed_fails failures; LiteLLM allows that many")
	}
	// Failures a minute apart do not add up.
	f.clock.Advance(2 * time.Minute)
	fail()
	fail()
	if cooling, _ := f.r.CoolingDown(f.byID["m#1"]); cooling {
		t.Fatal("failures from minutes ago were counted")
	}
	fail()
	if cooling, until := f.r.CoolingDown(f.byID["m#1"]); !cooling || !until.Equal(f.clock.Now().Add(DefaultCooldownTime)) {
		t.Fatalf("after %d failures within a minute: cooling %v until %v", allowed+1, cooling, until)
	}
}

func TestAllCoolingTriesLeastRecentlyFailed(t *testing.T) {
	f := newFixture(t, Options{}, dep("m", Policy{}), dep("m", Policy{}))
	for _, id := range []string{"m#2", "m#1"} { // m#2 fails first
		d := f.byID[id]
		t := f.r.live.Load()
		c := t.start(context.Background(), d, t.groups["m"], &Request{Model: "m"}, t.log, 1)
		c.fail(throttled)
		f.clock.Advance(time.Second)
	}
	for range 5 {
		served, _, _, err := f.call(t, Request{Model: "m"}, nil, Usage{})
		if err != nil {
			t.Fatalf("every deployment cooling must not fail the request: %v", err)
		}
		if served != "m#2" {
			t.Fatalf("served by %s, want m#2, which failed longest ago", served)
		}
	}
}

func TestRetryPrefersAnotherDeployment(t *testing.T) {
	f := newFixture(t, Options{NumRetries: 2}, dep("m", Policy{}), dep("m", Policy{}), dep("m", Policy{}))
	fails := outcome{"m#1": unavailable, "m#2": unavailable}
	for range 20 {
		served, tally, attempts, err := f.call(t, Request{Model: "m"}, fails, Usage{})
		if err != nil {
			t.Fatalf("attempts %v: %v", attempts, err)
		}
		if served != "m#3" || tally.Retries != len(attempts)-1 {
			t.Fatalf("served %s after %v (tally %+v)", served, attempts, tally)
		}
		seen := map[string]bool{}
		for _, a := range attempts {
			if seen[a] {
				t.Fatalf("tried %s twice while an untried deployment was left: %v", a, attempts)
			}
			seen[a] = true
		}
	}
	if len(f.sleeps.waits) != 0 {
		t.Errorf("backed off %v before moving to another deployment", f.sleeps.waits)
	}
}

func TestRetryBacksOffExponentiallyOnTheSameDeployment(t *testing.T) {
	f := newFixture(t, Options{NumRetries: 4, Rand: func() float64 { return 0.5 }}, dep("m", Policy{}))
	_, tally, attempts, err := f.call(t, Request{Model: "m"}, outcome{"m#1": unavailable}, Usage{})
	if err == nil || len(attempts) != 5 || tally.Retries != 4 {
		t.Fatalf("attempts %v tally %+v err %v, want 5 failed attempts", attempts, tally, err)
	}
	// retry_after 0.5 s doubling, times a jitter factor of 0.75 at rand 0.5.
	want := []time.Duration{375 * time.Millisecond, 750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second}
	if fmt.Sprint(f.sleeps.waits) != fmt.Sprint(want) {
		t.Errorf("backoffs %v, want %v", f.sleeps.waits, want)
	}
	if got := f.value(t, "strata_retries_total", "model_name", "m"); got != 4 {
		t.Errorf("strata_retries_total = %v, want 4", got)
	}
}

func TestBackoffIsCappedAndJittered(t *testing.T) {
	for _, x := range []float64{0, 0.999} {
		f := newFixture(t, Options{Rand: func() float64 { return x }}, dep("m", Policy{}))
		for n := range 40 {
			d := f.r.live.Load().backoff(n)
			if d < 0 || d > MaxBackoff {
				t.Fatalf("backoff(%d) = %v at rand %v", n, d, x)
			}
		}
	}
}

func TestNoRetryOrFallbackOnTheClientsMistake(t *testing.T) {
	f := newFixture(t, Options{NumRetries: 3, Fallbacks: map[string][]string{"m": {"other"}}},
		dep("m", Policy{}), dep("m", Policy{}), dep("other", Policy{}))
	_, tally, attempts, err := f.call(t, Request{Model: "m"}, outcome{"m#1": invalid, "m#2": invalid}, Usage{})
	if !errors.Is(err, invalid) || len(attempts) != 1 || tally != (Tally{}) {
		t.Errorf("attempts %v tally %+v err %v: a bad request must fail once", attempts, tally, err)
	}
	if cooling, _ := f.r.CoolingDown(f.byID[attempts[0]]); cooling {
		t.Error("a bad request cooled the deployment down")
	}
}

func TestFallbackChainWhenEveryDeploymentFails(t *testing.T) {
	f := newFixture(t, Options{NumRetries: 1, Fallbacks: map[string][]string{"claude": {"llama", "titan"}}},
		dep("claude", Policy{}), dep("claude", Policy{}), dep("llama", Policy{}), dep("titan", Policy{}))
	fails := outcome{"claude#1": unavailable, "claude#2": throttled, "llama#1": denied}
	c, tally, err := f.r.Do(context.Background(), Request{Model: "claude"}, func(ctx context.Context, c *Call) error {
		return fails[c.Deployment.ID]
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Finish(Usage{}, nil)
	if c.Model != "titan" || c.Deployment.ID != "titan#1" {
		t.Errorf("served by %s (%s), want titan", c.Model, c.Deployment.ID)
	}
	if tally != (Tally{Retries: 1, Fallbacks: 2}) {
		t.Errorf("tally %+v, want 1 retry (within claude) and 2 fallbacks", tally)
	}
	for to, want := range map[string]float64{"llama": 1, "titan": 1} {
		if got := f.value(t, "strata_fallbacks_total", "model_name", "claude", "fallback_model", to, "reason", "error"); got != want {
			t.Errorf("strata_fallbacks_total{claude->%s} = %v, want %v", to, got, want)
		}
	}
}

func TestFallbacksExhaustedReportTheOriginalError(t *testing.T) {
	f := newFixture(t, Options{Fallbacks: map[string][]string{"*": {"llama"}}}, dep("claude", Policy{}), dep("llama", Policy{}))
	_, tally, attempts, err := f.call(t, Request{Model: "claude"}, outcome{"claude#1": unavailable, "llama#1": denied}, Usage{})
	if !errors.Is(err, unavailable) || tally.Fallbacks != 1 || len(attempts) != 2 {
		t.Errorf("attempts %v tally %+v err %v, want claude's error after trying llama", attempts, tally, err)
	}
}

func TestContextWindowAndContentPolicyFallbacks(t *testing.T) {
	f := newFixture(t, Options{
		Fallbacks:              map[string][]string{"claude": {"general"}},
		ContextWindowFallbacks: map[string][]string{"claude": {"long"}},
		ContentPolicyFallbacks: map[string][]string{"claude": {"lenient"}},
	}, dep("claude", Policy{}), dep("general", Policy{}), dep("long", Policy{}), dep("lenient", Policy{}))
	for _, tc := range []struct {
		err    error
		served string
		reason string
	}{
		{tooLong, "long#1", "context_window"},
		{filtered, "lenient#1", "content_policy"},
		{unavailable, "general#1", "error"},
	} {
		served, tally, _, err := f.call(t, Request{Model: "claude"}, outcome{"claude#1": tc.err}, Usage{})
		if err != nil || served != tc.served || tally.Fallbacks != 1 {
			t.Errorf("%v: served by %q after %+v, err %v; want %s", tc.err, served, tally, err, tc.served)
		}
		if got := f.value(t, "strata_fallbacks_total", "model_name", "claude", "fallback_model", tc.served[:len(tc.served)-2], "reason", tc.reason); got != 1 {
			t.Errorf("fallback metric for %s = %v", tc.reason, got)
		}
	}
	// Without context_window_fallbacks, a prompt too long is the client's answer.
	g := newFixture(t, Options{Fallbacks: map[string][]string{"claude": {"general"}}}, dep("claude", Policy{}), dep("general", Policy{}))
	_, _, attempts, err := g.call(t, Request{Model: "claude"}, outcome{"claude#1": tooLong}, Usage{})
	if !errors.Is(err, tooLong) || len(attempts) != 1 {
		t.Errorf("attempts %v err %v: a context-length error must not use the general fallbacks", attempts, err)
	}
}

// A fallback the caller may not use is skipped, never called: every kind
// of fallback, the request's own too.
func TestFallbacksTheCallerMayNotUseAreSkipped(t *testing.T) {
	type callerKey struct{}
	refused := errors.New("not this key's model")
	f := newFixture(t, Options{
		Fallbacks:              map[string][]string{"claude": {"llama", "titan"}},
		ContextWindowFallbacks: map[string][]string{"claude": {"long"}},
		MayServe: func(ctx context.Context, model string) error {
			if ctx.Value(callerKey{}) == "limited" && model != "claude" && model != "titan" {
				return refused
			}
			return nil
		},
	}, dep("claude", Policy{}), dep("llama", Policy{}), dep("titan", Policy{}), dep("long", Policy{}))
	limited := context.WithValue(context.Background(), callerKey{}, "limited")
	run := func(ctx context.Context, req Request, fails outcome) (string, Tally, []string, error) {
		var attempts []string
		c, tally, err := f.r.Do(ctx, req, func(ctx context.Context, c *Call) error {
			attempts = append(attempts, c.Deployment.ID)
			return fails[c.Deployment.ID]
		})
		if err != nil {
			return "", tally, attempts, err
		}
		c.Finish(Usage{}, nil)
		return c.Deployment.ID, tally, attempts, nil
	}
	served, tally, attempts, err := run(limited, Request{Model: "claude"}, outcome{"claude#1": unavailable})
	if err != nil || served != "titan#1" || tally.Fallbacks != 1 || !slices.Equal(attempts, []string{"claude#1", "titan#1"}) {
		t.Errorf("served by %q after %v (%+v), err %v; want titan, llama skipped", served, attempts, tally, err)
	}
	_, _, attempts, err = run(limited, Request{Model: "claude"}, outcome{"claude#1": tooLong})
	if !errors.Is(err, tooLong) || !slices.Equal(attempts, []string{"claude#1"}) {
		t.Errorf("context window fallback: attempts %v err %v; want long skipped and claude's error", attempts, err)
	}
	_, _, attempts, err = run(limited, Request{Model: "claude", Fallbacks: []string{"llama"}}, outcome{"claude#1": unavailable})
	if !errors.Is(err, unavailable) || !slices.Equal(attempts, []string{"claude#1"}) {
		t.Errorf("request fallbacks: attempts %v err %v; want llama skipped and claude's error", attempts, err)
	}
	served, _, _, err = run(context.Background(), Request{Model: "claude"}, outcome{"claude#1": unavailable})
	if err != nil || served != "llama#1" {
		t.Errorf("a caller allowed every model: served by %q, err %v; want llama", served, err)
	}
}

func TestRequestFallbacksReplaceConfigured(t *testing.T) {
	f := newFixture(t, Options{Fallbacks: map[string][]string{"claude": {"llama"}}},
		dep("claude", Policy{}), dep("llama", Policy{}), dep("titan", Policy{}))
	served, _, _, err := f.call(t, Request{Model: "claude", Fallbacks: []string{"titan"}}, outcome{"claude#1": unavailable}, Usage{})
	if err != nil || served != "titan#1" {
		t.Errorf("served by %q err %v, want the request's titan", served, err)
	}
	_, _, _, err = f.call(t, Request{Model: "claude", Fallbacks: []string{"gpt-4"}}, nil, Usage{})
	var oe *openai.Error
	if !errors.As(err, &oe) || oe.Status != 400 || oe.Param != "fallbacks" {
		t.Errorf("unknown fallback: %v, want a 400 about fallbacks", err)
	}
}

func TestUnknownModelIs400(t *testing.T) {
	f := newFixture(t, Options{}, dep("m", Policy{}))
	_, _, _, err := f.call(t, Request{Model: "gpt-4"}, nil, Usage{})
	var oe *openai.Error
	if !errors.As(err, &oe) || oe.Status != 400 || oe.Code != "model_not_found" {
		t.Errorf("err = %v", err)
	}
}

// hang is an attempt that waits for its context, as a Bedrock call would.
func hang(ctx context.Context, c *Call) error {
	<-ctx.Done()
	return &bedrock.TransportError{Err: ctx.Err()}
}

func TestTimeoutsBecomeClientErrors(t *testing.T) {
	// Each case has one short timer; the others are long, so that a timer
	// woken late on a busy machine cannot be overtaken by another.
	cases := []struct {
		name   string
		opts   Options
		req    Request
		status int
		code   string
	}{
		{"router timeout", Options{Timeout: 20 * time.Millisecond}, Request{Model: "m"}, http.StatusGatewayTimeout, TimeoutCall},
		{"request timeout", Options{Timeout: time.Hour}, Request{Model: "m", Timeout: 10 * time.Millisecond}, http.StatusRequestTimeout, TimeoutCall},
		{"stream_timeout", Options{Timeout: time.Hour}, Request{Model: "m", Stream: true, StreamTimeout: 10 * time.Millisecond}, http.StatusRequestTimeout, TimeoutFirstToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.opts, dep("m", Policy{}))
			_, _, err := f.r.Do(context.Background(), tc.req, hang)
			var oe *openai.Error
			if !errors.As(err, &oe) || oe.Status != tc.status || oe.Code != tc.code || oe.Type != openai.TypeTimeout {
				t.Fatalf("err = %#v, want %d %s", err, tc.status, tc.code)
			}
			if cooling, _ := f.r.CoolingDown(f.byID["m#1"]); cooling {
				t.Error("a timeout cooled the deployment down")
			}
		})
	}
}

func TestStreamTimeoutIsRetriedElsewhere(t *testing.T) {
	f := newFixture(t, Options{NumRetries: 1, StreamTimeout: 10 * time.Millisecond}, dep("m", Policy{}), dep("m", Policy{}))
	var attempts []string
	c, tally, err := f.r.Do(context.Background(), Request{Model: "m", Stream: true}, func(ctx context.Context, c *Call) error {
		attempts = append(attempts, c.Deployment.ID)
		if len(attempts) == 1 {
			return hang(ctx, c)
		}
		c.FirstToken()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Finish(Usage{}, nil)
	if tally.Retries != 1 || len(attempts) != 2 || attempts[0] == attempts[1] {
		t.Errorf("attempts %v tally %+v", attempts, tally)
	}
	if got := f.value(t, "strata_upstream_errors_total", "model_name", "m", "deployment", attempts[0], "exception", TimeoutFirstToken); got != 1 {
		t.Errorf("upstream stream_timeout errors = %v, want 1", got)
	}
}

func TestIdleTimeoutCutsAStreamAfterItsFirstToken(t *testing.T) {
	f := newFixture(t, Options{StreamIdleTimeout: 10 * time.Millisecond}, dep("m", Policy{}))
	c, _, err := f.r.Do(context.Background(), Request{Model: "m", Stream: true}, func(ctx context.Context, c *Call) error {
		c.FirstToken()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	<-c.ctx.Done() // the stream goes silent
	readErr := c.Err(&bedrock.TransportError{Err: context.Canceled})
	var oe *openai.Error
	if !errors.As(readErr, &oe) || oe.Code != TimeoutIdle || oe.Status != http.StatusGatewayTimeout {
		t.Fatalf("err = %v, want a 504 stream_idle_timeout", readErr)
	}
	c.Finish(Usage{}, readErr)
	if got := f.value(t, "strata_in_flight_requests", "model_name", "m", "deployment", "m#1"); got != 0 {
		t.Errorf("in flight after Finish = %v", got)
	}
}

func TestClientGoneStopsRetries(t *testing.T) {
	f := newFixture(t, Options{NumRetries: 5}, dep("m", Policy{}), dep("m", Policy{}))
	ctx, cancel := context.WithCancel(context.Background())
	attempts := 0
	_, _, err := f.r.Do(ctx, Request{Model: "m"}, func(ctx context.Context, c *Call) error {
		attempts++
		cancel()
		return &bedrock.TransportError{Err: ctx.Err()}
	})
	if !errors.Is(err, context.Canceled) || attempts != 1 {
		t.Errorf("attempts %d err %v", attempts, err)
	}
	if got := f.value(t, "strata_upstream_errors_total"); got != 0 {
		t.Errorf("a client leaving counted %v upstream errors", got)
	}
	for id, d := range f.byID {
		if cooling, _ := f.r.CoolingDown(d); cooling || !d.state.lastFailure().IsZero() {
			t.Errorf("a client leaving was held against %s", id)
		}
	}
}

func TestMetricsCountWhatHappened(t *testing.T) {
	f := newFixture(t, Options{NumRetries: 1}, dep("m", Policy{Weight: 1}), dep("m", Policy{Weight: 0.0000001}))
	_, _, attempts, err := f.call(t, Request{Model: "m"}, outcome{"m#1": throttled}, Usage{InputTokens: 12, OutputTokens: 34})
	if err != nil || len(attempts) != 2 {
		t.Fatalf("attempts %v err %v", attempts, err)
	}
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"strata_upstream_errors_total", []string{"model_name", "m", "deployment", "m#1", "exception", "ThrottlingException"}, 1},
		{"strata_retries_total", []string{"model_name", "m"}, 1},
		{"strata_deployment_cooldowns_total", []string{"model_name", "m", "deployment", "m#1"}, 1},
		{"strata_tokens_total", []string{"model_name", "m", "deployment", "m#2", "direction", "input"}, 12},
		{"strata_tokens_total", []string{"model_name", "m", "deployment", "m#2", "direction", "output"}, 34},
		{"strata_in_flight_requests", []string{"model_name", "m", "deployment", "m#1"}, 0},
		{"strata_in_flight_requests", []string{"model_name", "m", "deployment", "m#2"}, 0},
		{"strata_request_duration_seconds", []string{"model_name", "m", "deployment", "m#2"}, 1}, // one observation
	} {
		if got := f.value(t, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
}

func TestWindowCountsTheLastMinuteToTheSecond(t *testing.T) {
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var w window
	w.add(start.Add(10*time.Second+500*time.Millisecond), 4)
	w.add(start.Add(30*time.Second), 6)
	now := start.Add(40 * time.Second)
	if got := w.count(now); got != 10 {
		t.Fatalf("count = %d, want 10", got)
	}
	// The minute is the current second and the 59 before it: the 4 from
	// second 10 leave at 12:01:10, the 6 from second 30 at 12:01:30.
	for _, tc := range []struct {
		n    int64
		want time.Duration
	}{
		{10, 0},
		{9, 30 * time.Second},
		{6, 30 * time.Second},
		{5, 50 * time.Second},
		{0, 50 * time.Second},
	} {
		if got := w.waitAtMost(tc.n, now); got != tc.want {
			t.Errorf("waitAtMost(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
	if got := w.count(start.Add(69 * time.Second)); got != 10 {
		t.Errorf("count at 12:01:09 = %d, want 10", got)
	}
	if got := w.count(start.Add(70 * time.Second)); got != 6 {
		t.Errorf("count at 12:01:10 = %d, want 6", got)
	}
	if got := w.count(start.Add(3 * time.Minute)); got != 0 {
		t.Errorf("count after two quiet minutes = %d", got)
	}
}

// value reads one series from the registry: a counter's or gauge's value,
// a histogram's count. A series never created reads 0.
func (f *fixture) value(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	families, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return 0
}

func BenchmarkPick(b *testing.B) {
	for _, strategy := range []string{SimpleShuffle, LeastBusy, LatencyBased, UsageBased} {
		b.Run(strategy, func(b *testing.B) {
			var ds []*Deployment
			for i := range 4 {
				ds = append(ds, &Deployment{Name: "m", ID: fmt.Sprintf("m#%d", i+1), Policy: Policy{Weight: float64(i + 1), RPM: 1 << 30, TPM: 1 << 30}})
			}
			r, err := newTable(ds, Options{Strategy: strategy})
			if err != nil {
				b.Fatal(err)
			}
			g := r.groups["m"]
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := r.pick(context.Background(), g, &Request{}, 0, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestAliasesServeTheirModelName(t *testing.T) {
	f := newFixture(t, Options{Aliases: map[string]string{"claude-sonnet-4-5": "claude", "llama": "llama"}},
		dep("claude", Policy{}), dep("llama", Policy{}))
	served, _, _, err := f.call(t, Request{Model: "claude-sonnet-4-5"}, nil, Usage{})
	if err != nil || served != "claude#1" {
		t.Fatalf("alias served by %q, %v; want claude#1", served, err)
	}
	if err := f.r.Has("claude-sonnet-4-5"); err != nil {
		t.Errorf("Has(alias): %v", err)
	}
	if got := f.r.Names(); len(got) != 2 {
		t.Errorf("Names() = %v, want the two model names only", got)
	}
	if _, err := New(nil, Options{Aliases: map[string]string{"a": "nothing"}}); err == nil {
		t.Error("an alias of an unserved model name was accepted")
	}
}

func TestBrokenDeploymentsAreSkipped(t *testing.T) {
	f := newFixture(t, Options{Fallbacks: map[string][]string{"nova": {"claude"}}},
		dep("claude", Policy{}), dep("claude", Policy{}), dep("nova", Policy{}))
	problem := errors.New("config.yaml:5: model_list[0].litellm_params.aws_role_name: environment variable ROLE is not set")
	f.byID["claude#1"].Broken = problem
	f.byID["nova#1"].Broken = errors.New("config.yaml:9: model_list[2].litellm_params.aws_region_name: environment variable REGION is not set")

	// The broken deployment of a name that has another is never picked.
	for range 20 {
		served, _, attempts, err := f.call(t, Request{Model: "claude"}, nil, Usage{})
		if err != nil || served != "claude#2" || len(attempts) != 1 {
			t.Fatalf("served by %q after %v, %v; want claude#2 alone", served, attempts, err)
		}
	}

	// A name whose deployments are all broken answers with what is wrong,
	// after its fallbacks had their turn.
	served, tally, _, err := f.call(t, Request{Model: "nova"}, nil, Usage{})
	if err != nil || served != "claude#2" || tally.Fallbacks != 1 {
		t.Fatalf("nova served by %q (%+v), %v; want its fallback claude#2", served, tally, err)
	}
	_, _, attempts, err := f.call(t, Request{Model: "nova", Fallbacks: []string{}}, nil, Usage{})
	var oe *openai.Error
	if !errors.As(err, &oe) || oe.Status != http.StatusServiceUnavailable || oe.Code != "deployment_misconfigured" ||
		!strings.Contains(oe.Message, "nova#1: config.yaml:9: model_list[2].litellm_params.aws_region_name: environment variable REGION is not set") {
		t.Fatalf("error = %#v, want a 503 naming the setting", err)
	}
	if len(attempts) != 0 {
		t.Errorf("attempts = %v on a broken deployment", attempts)
	}
}

func TestUnservedModelNames(t *testing.T) {
	f := newFixture(t, Options{Unserved: map[string]string{"gpt-4o": `an openai model ("openai/gpt-4o")`}}, dep("claude", Policy{}))
	err := f.r.Has("gpt-4o")
	var oe *openai.Error
	if !errors.As(err, &oe) || oe.Status != http.StatusBadRequest || oe.Param != "model" {
		t.Fatalf("Has(gpt-4o) = %#v, want a 400 about model", err)
	}
	for _, want := range []string{`"gpt-4o" is an openai model ("openai/gpt-4o")`, "serves AWS Bedrock models only", "available models: claude"} {
		if !strings.Contains(oe.Message, want) {
			t.Errorf("message %q lacks %q", oe.Message, want)
		}
	}
	if strings.Contains(oe.Message, "bedrock/gpt-4o") {
		t.Errorf("message suggests bedrock/gpt-4o: %s", oe.Message)
	}
}
