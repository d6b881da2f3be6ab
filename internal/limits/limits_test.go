package limits

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 10, 0, 30, 0, time.UTC)} }

func budget(v float64) *float64 { return &v }

func TestRPMRefusesWithHeaders(t *testing.T) {
	c := newClock()
	l := New(Options{Now: c.now})
	key := []Scope{{Kind: "key", ID: "h1", Name: "bot", RPM: 2, TPM: 1000}}
	for i := range 2 {
		lease, err := l.Admit(context.Background(), key, "m")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		h := http.Header{}
		lease.SetHeaders(h)
		if got := h.Get("X-Ratelimit-Remaining-Requests"); got != []string{"1", "0"}[i] {
			t.Errorf("request %d: remaining requests %q", i, got)
		}
		if h.Get("X-Ratelimit-Limit-Tokens") != "1000" || h.Get("X-Ratelimit-Limit-Requests") != "2" {
			t.Errorf("request %d: headers %v", i, h)
		}
		lease.End(context.Background(), 10, 0)
	}
	_, err := l.Admit(context.Background(), key, "m")
	var ex *Exceeded
	if !errors.As(err, &ex) || ex.Limit != "rpm_limit" {
		t.Fatalf("third request: %v", err)
	}
	h := http.Header{}
	ex.SetHeaders(h)
	if h.Get("Retry-After") != "30" || h.Get("X-Ratelimit-Remaining-Requests") != "0" || h.Get("X-Ratelimit-Remaining-Tokens") != "980" {
		t.Errorf("429 headers: %v", h)
	}
	if ce := ex.ClientError(); ce.Status != 429 || ce.Type != "rate_limit_error" {
		t.Errorf("client error %+v", ce)
	}
	c.advance(30 * time.Second) // the next minute
	if _, err := l.Admit(context.Background(), key, "m"); err != nil {
		t.Errorf("next minute: %v", err)
	}
}

func TestTPMCountsTokensOfEndedRequests(t *testing.T) {
	c := newClock()
	l := New(Options{Now: c.now})
	team := []Scope{{Kind: "team", ID: "t1", TPM: 100}}
	lease, err := l.Admit(context.Background(), team, "m")
	if err != nil {
		t.Fatal(err)
	}
	lease.End(context.Background(), 100, 0)
	if _, err := l.Admit(context.Background(), team, "m"); err == nil {
		t.Fatal("admitted past tpm_limit")
	}
}

func TestMaxParallel(t *testing.T) {
	l := New(Options{})
	user := []Scope{{Kind: "user", ID: "u1", MaxParallel: 2}, {Kind: "key", ID: "k", RPM: 100}}
	a, _ := l.Admit(context.Background(), user, "m")
	b, _ := l.Admit(context.Background(), user, "m")
	var ex *Exceeded
	if _, err := l.Admit(context.Background(), user, "m"); !errors.As(err, &ex) || ex.Limit != "max_parallel_requests" {
		t.Fatalf("third parallel request: %v", err)
	}
	a.End(context.Background(), 0, 0)
	a.End(context.Background(), 0, 0) // ending twice gives back one slot
	c, err := l.Admit(context.Background(), user, "m")
	if err != nil {
		t.Fatalf("after one ended: %v", err)
	}
	if _, err := l.Admit(context.Background(), user, "m"); err == nil {
		t.Fatal("a lease ended twice gave back two slots")
	}
	b.End(context.Background(), 0, 0)
	c.End(context.Background(), 0, 0)
	// A refused request takes nothing: the key's rpm counted only admitted ones.
	h := http.Header{}
	d, _ := l.Admit(context.Background(), user, "m")
	d.SetHeaders(h)
	if got := h.Get("X-Ratelimit-Remaining-Requests"); got != "96" {
		t.Errorf("remaining requests %s, want 96 (4 admitted)", got)
	}
}

func TestBudgetRefusesAndResets(t *testing.T) {
	c := newClock()
	var reads []time.Time
	source := func(_ context.Context, ref BudgetRef, since time.Time) (float64, error) {
		reads = append(reads, since)
		if ref.Kind == "key" {
			return 0.5, nil // spent before a restart
		}
		return 0, nil
	}
	l := New(Options{Now: c.now, Spend: source})
	anchor := c.now().Add(-90 * time.Minute)
	key := []Scope{{Kind: "key", ID: "h", Name: "bot", MaxBudget: budget(1), BudgetDuration: time.Hour, BudgetAnchor: anchor}}
	lease, err := l.Admit(context.Background(), key, "m")
	if err != nil {
		t.Fatal(err)
	}
	lease.End(context.Background(), 10, 0.6)
	_, err = l.Admit(context.Background(), key, "m")
	var be *BudgetExceeded
	if !errors.As(err, &be) {
		t.Fatalf("over budget: %v", err)
	}
	ce := be.ClientError()
	if ce.Status != 400 || ce.Type != "budget_exceeded" || ce.Message != "Budget has been exceeded! Key=bot Current cost: 1.1, Max budget: 1. Budget resets at 2026-01-01T10:30:30Z" {
		t.Errorf("client error: %d %s %q", ce.Status, ce.Type, ce.Message)
	}
	if len(reads) != 1 || !reads[0].Equal(anchor.Add(time.Hour)) {
		t.Errorf("spend logs read %v, want once since %v", reads, anchor.Add(time.Hour))
	}
	c.advance(30 * time.Minute) // the budget resets at anchor + 2h
	if _, err := l.Admit(context.Background(), key, "m"); err != nil {
		t.Errorf("after the reset: %v", err)
	}
}

func TestModelMaxBudgetAndGlobal(t *testing.T) {
	l := New(Options{Global: &Scope{Kind: "global", ID: "gateway", MaxBudget: budget(1)}})
	scopes := []Scope{
		{Kind: "key", ID: "h", ModelMaxBudget: map[string]ModelBudget{"claude": {MaxBudget: 0.1}}},
	}
	lease, _ := l.Admit(context.Background(), scopes, "claude")
	lease.End(context.Background(), 1, 0.1)
	var be *BudgetExceeded
	if _, err := l.Admit(context.Background(), scopes, "claude"); !errors.As(err, &be) || be.Model != "claude" {
		t.Fatalf("model budget: %v", err)
	}
	lease, err := l.Admit(context.Background(), scopes, "llama")
	if err != nil {
		t.Fatalf("another model: %v", err)
	}
	lease.End(context.Background(), 1, 0.9)
	if _, err := l.Admit(context.Background(), scopes, "llama"); !errors.As(err, &be) || be.Scope != "Gateway (litellm_settings.max_budget)" {
		t.Fatalf("gateway budget: %v", err)
	}
}

// A reload that raises the gateway's budget admits again, and what was
// spent before still counts against the new one.
func TestSetGlobalKeepsWhatWasSpent(t *testing.T) {
	l := New(Options{Global: &Scope{Kind: "global", ID: "gateway", MaxBudget: budget(1)}})
	lease, err := l.Admit(context.Background(), nil, "m")
	if err != nil {
		t.Fatal(err)
	}
	lease.End(context.Background(), 1, 1)
	var be *BudgetExceeded
	if _, err := l.Admit(context.Background(), nil, "m"); !errors.As(err, &be) {
		t.Fatalf("over the budget of 1: %v", err)
	}
	l.SetGlobal(&Scope{Kind: "global", ID: "gateway", MaxBudget: budget(1.5)})
	lease, err = l.Admit(context.Background(), nil, "m")
	if err != nil {
		t.Fatalf("under the raised budget of 1.5: %v", err)
	}
	lease.End(context.Background(), 1, 0.5)
	if _, err := l.Admit(context.Background(), nil, "m"); !errors.As(err, &be) {
		t.Fatalf("1.5 spent of the raised budget of 1.5: %v", err)
	}
	l.SetGlobal(nil)
	if _, err := l.Admit(context.Background(), nil, "m"); err != nil {
		t.Fatalf("with the gateway budget removed: %v", err)
	}
}

// TestConcurrentBudget: of 50 requests racing on a budget of 3 requests'
// cost, those admitted after the budget was reached are refused; the
// overshoot is only what was in flight.
func TestConcurrentBudget(t *testing.T) {
	l := New(Options{})
	key := []Scope{{Kind: "key", ID: "h", MaxBudget: budget(0.003)}}
	const cost = 0.001
	var mu sync.Mutex
	var spent float64
	admittedOver := 0
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock() // serialise admit+end pairs in random order with the others
			before := spent
			lease, err := l.Admit(context.Background(), key, "m")
			if err == nil {
				if before >= 0.003 {
					admittedOver++
				}
				lease.End(context.Background(), 1, cost)
				spent += cost
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if admittedOver != 0 || spent > 0.003+1e-9 {
		t.Errorf("admitted %d requests over budget; spent %v", admittedOver, spent)
	}
}

type failingCounter struct{}

func (failingCounter) Take(context.Context, []Step, []SpendKey, time.Time) (Taken, error) {
	return Taken{}, errors.New("redis: connection refused")
}
func (failingCounter) Settle(context.Context, []Step, []SpendAdd, time.Time) error {
	return errors.New("redis: connection refused")
}

func TestCounterOutageAdmits(t *testing.T) {
	l := New(Options{Counter: failingCounter{}})
	if _, err := l.Admit(context.Background(), []Scope{{Kind: "key", ID: "h", RPM: 1, TPM: 1, MaxParallel: 1}}, "m"); err != nil {
		t.Fatalf("a counter outage refused the request: %v", err)
	}
}

func TestPeriodOf(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, tt := range []struct {
		anchor     time.Time
		start, end time.Time
	}{
		{now.Add(-36 * time.Hour), now.Add(-12 * time.Hour), now.Add(12 * time.Hour)}, // created a day and a half ago
		{now.Add(6 * time.Hour), now.Add(-18 * time.Hour), now.Add(6 * time.Hour)},    // the next reset, 6h ahead
		{now.Add(30 * time.Hour), now.Add(-18 * time.Hour), now.Add(6 * time.Hour)},   // a reset further ahead
		{now, now, now.Add(day)},
		{now.Add(day), now, now.Add(day)},
	} {
		start, end := periodOf(now, tt.anchor, day, 0)
		if !start.Equal(tt.start) || !end.Equal(tt.end) {
			t.Errorf("anchor %v: period %v to %v, want %v to %v", tt.anchor, start, end, tt.start, tt.end)
		}
	}
}

// A request refused by one scope's limit takes nothing from the others.
func TestRefusalTakesNothing(t *testing.T) {
	m := NewMemory()
	l := New(Options{Counter: m})
	scopes := []Scope{{Kind: "key", ID: "k", MaxParallel: 5, RPM: 100}, {Kind: "team", ID: "t", MaxParallel: 1}, {Kind: "user", ID: "u", MaxParallel: 5}}
	lease, err := l.Admit(context.Background(), scopes, "m")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Admit(context.Background(), scopes, "m"); err == nil {
		t.Fatal("the team's one parallel slot was taken twice")
	}
	now := time.Now()
	for _, s := range []Scope{scopes[0], scopes[2]} {
		if n := m.Get(counterKey("parallel", &s), 0, now); n != 1 {
			t.Errorf("%s: %d requests in flight while one is, want 1", s.Kind, n)
		}
	}
	if n := m.Get(counterKey("rpm", &scopes[0]), minute, now); n != 1 {
		t.Errorf("rpm counted %d requests, want the one admitted", n)
	}
	lease.End(context.Background(), 0, 0)
	for _, s := range scopes {
		if n := m.Get(counterKey("parallel", &s), 0, now); n != 0 {
			t.Errorf("%s: %d requests still in flight after the lease ended", s.Kind, n)
		}
	}
}
