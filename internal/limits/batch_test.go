package limits

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// roundTrips counts the calls a Redis client makes (a command or a
// pipeline each), by the request whose
// context made them; calls of no request (the batches) count under "".
type roundTrips struct {
	mu  sync.Mutex
	per map[string]int
}

type requestID struct{}

func (h *roundTrips) count(ctx context.Context) {
	id, _ := ctx.Value(requestID{}).(string)
	h.mu.Lock()
	h.per[id]++
	h.mu.Unlock()
}

func (h *roundTrips) get(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.per[id]
}

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !handshake(cmd) {
			h.count(ctx)
		}
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !slices.ContainsFunc(cmds, handshake) {
			h.count(ctx)
		}
		return next(ctx, cmds)
	}
}

// handshake says whether cmd opens a connection (HELLO, CLIENT SETINFO):
// once per pooled connection, not per request.
func handshake(cmd redis.Cmder) bool { return cmd.Name() == "hello" || cmd.Name() == "client" }

// countedClient is a client of the test server whose calls are counted.
func countedClient(t *testing.T) (*redis.Client, *roundTrips) {
	opts := *redisClient(t).Options()
	c := redis.NewClient(&opts)
	t.Cleanup(func() { c.Close() })
	h := &roundTrips{per: map[string]int{}}
	c.AddHook(h)
	return c, h
}

var allLimits = []Scope{
	{Kind: "key", ID: "k", RPM: 1 << 40, TPM: 1 << 40, MaxParallel: 1 << 20},
	{Kind: "team", ID: "t", RPM: 1 << 40, TPM: 1 << 40, MaxParallel: 1 << 20},
	{Kind: "user", ID: "u", RPM: 1 << 40, TPM: 1 << 40, MaxParallel: 1 << 20, MaxBudget: budget(1e9)},
}

// A request admitted and ended against Redis makes one round trip on its
// own path, the take; its end reaches Redis in a batch, from no request.
func TestBatchedOneRoundTripPerRequest(t *testing.T) {
	c, calls := countedClient(t)
	prefix := fmt.Sprintf("strata-test:%s:%d:", t.Name(), time.Now().UnixNano())
	b := NewBatched(NewRedis(c, prefix, 2*time.Second), BatchOptions{})
	l := New(Options{Counter: b})
	// Load the scripts: the first call after Redis starts costs one more.
	if err := c.ScriptLoad(context.Background(), takeLua).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.ScriptLoad(context.Background(), settleLua).Err(); err != nil {
		t.Fatal(err)
	}
	const requests = 40
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			ctx := context.WithValue(context.Background(), requestID{}, fmt.Sprint("request ", i))
			lease, err := l.Admit(ctx, allLimits, "m")
			if err != nil {
				t.Error(err)
				return
			}
			lease.End(ctx, 10, 0.5)
		})
	}
	wg.Wait()
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range requests {
		if n := calls.get(fmt.Sprint("request ", i)); n != 1 {
			t.Errorf("request %d made %d Redis round trips, want 1", i, n)
		}
	}
	if n := calls.get(""); n < 1 || n > requests {
		t.Errorf("%d batches settled %d requests", n, requests)
	}
	// Every end arrived: slots all back, tokens and cost all counted.
	ctx := context.Background()
	now := time.Now()
	for _, s := range allLimits {
		r := NewRedis(c, prefix, time.Second)
		if v, _ := c.Get(ctx, r.counterKey(counterKey("parallel", &s), 0, now)).Int64(); v != 0 {
			t.Errorf("%s: %d parallel slots still held", s.Kind, v)
		}
		// Summed over windows, in case the requests straddled a minute.
		windows, err := c.Keys(ctx, prefix+counterKey("tpm", &s).String()+":*").Result()
		if err != nil {
			t.Fatal(err)
		}
		var tokens int64
		for _, w := range windows {
			v, _ := c.Get(ctx, w).Int64()
			tokens += v
		}
		if tokens != 10*requests {
			t.Errorf("%s: %d tokens counted, want %d", s.Kind, tokens, 10*requests)
		}
	}
	keys, err := c.Keys(ctx, prefix+"spend:user:u:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("spend keys %v, %v", keys, err)
	}
	if v, _ := c.Get(ctx, keys[0]).Float64(); v != 0.5*requests {
		t.Errorf("spend %v, want %v", v, 0.5*requests)
	}
}

// Settles wait for one another up to Every; Close sends what waits, all
// in one call.
func TestBatchedSendsWaitingSettlesInOneCall(t *testing.T) {
	c, calls := countedClient(t)
	prefix := fmt.Sprintf("strata-test:%s:%d:", t.Name(), time.Now().UnixNano())
	b := NewBatched(NewRedis(c, prefix, 2*time.Second), BatchOptions{Every: time.Hour})
	ctx := context.Background()
	now := time.Now()
	par := Key{"parallel", "key", "k"}
	tpm := Key{"tpm", "key", "k"}
	for range 20 {
		if _, err := b.Take(ctx, []Step{{Key: par, N: 1, Limit: 100}}, nil, now); err != nil {
			t.Fatal(err)
		}
	}
	takes := calls.get("")
	for range 20 {
		if err := b.Settle(ctx, []Step{{Key: par, N: -1}, {Key: tpm, Window: minute, N: 5}}, nil, now); err != nil {
			t.Fatal(err)
		}
	}
	if n := calls.get("") - takes; n != 0 {
		t.Errorf("%d calls before the batch was due", n)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := calls.get("") - takes; n != 1 {
		t.Errorf("20 settles took %d calls, want 1", n)
	}
	r := NewRedis(c, prefix, time.Second)
	if v, _ := c.Get(ctx, r.counterKey(par, 0, now)).Int64(); v != 0 {
		t.Errorf("%d slots held after the batch", v)
	}
	if v, _ := c.Get(ctx, r.counterKey(tpm, minute, now)).Int64(); v != 100 {
		t.Errorf("%d tokens counted, want 100", v)
	}
	// After Close a settle goes to Redis by itself.
	if err := b.Settle(ctx, []Step{{Key: tpm, Window: minute, N: 1}}, nil, now); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.Get(ctx, r.counterKey(tpm, minute, now)).Int64(); v != 101 {
		t.Errorf("%d tokens counted after Close, want 101", v)
	}
}

// Max settles waiting are sent without waiting for Every: a parallel slot
// given back is free again on another gateway.
func TestBatchedSendsAFullBatchAtOnce(t *testing.T) {
	c := redisClient(t)
	prefix := fmt.Sprintf("strata-test:%s:%d:", t.Name(), time.Now().UnixNano())
	a := New(Options{Counter: NewBatched(NewRedis(c, prefix, 2*time.Second), BatchOptions{Every: time.Hour, Max: 3})})
	other := New(Options{Counter: NewRedis(c, prefix, 2*time.Second)})
	ctx := context.Background()
	scope := []Scope{{Kind: "team", ID: "t", MaxParallel: 3}}
	var leases []*Lease
	for range 3 {
		lease, err := a.Admit(ctx, scope, "m")
		if err != nil {
			t.Fatal(err)
		}
		leases = append(leases, lease)
	}
	if _, err := other.Admit(ctx, scope, "m"); err == nil {
		t.Fatal("a fourth request passed max_parallel_requests 3")
	}
	for _, lease := range leases {
		lease.End(ctx, 0, 0)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		lease, err := other.Admit(ctx, scope, "m")
		if err == nil {
			lease.End(ctx, 0, 0)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slots given back never reached Redis: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
}

// A batch Redis does not take is reported, and its tokens are counted in
// the fallback: limits go on per gateway with them.
func TestBatchedFailureCountsTokensInFallback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	down := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer down.Close()
	mem := NewMemory()
	var mu sync.Mutex
	var failures []error
	b := NewBatched(NewRedis(down, "x:", time.Second), BatchOptions{Fallback: mem, Failed: func(err error) {
		mu.Lock()
		failures = append(failures, err)
		mu.Unlock()
	}})
	ctx := context.Background()
	now := time.Now()
	tpm := Key{"tpm", "key", "k"}
	par := Key{"parallel", "key", "k"}
	if err := b.Settle(ctx, []Step{{Key: tpm, Window: minute, N: 70}, {Key: par, N: -1}}, nil, now); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(failures) != 1 {
		t.Errorf("failures reported %d, want 1", len(failures))
	}
	if v := mem.Get(tpm, minute, now); v != 70 {
		t.Errorf("fallback counted %d tokens, want 70", v)
	}
}
