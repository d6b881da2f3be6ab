package limits

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisClient connects to the test Redis server scripts/test starts; a
// test that needs it fails when it is not there.
func redisClient(t *testing.T) *redis.Client { return redisClientB(t) }

func redisClientB(t testing.TB) *redis.Client {
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

// counterBackends are the Counter implementations every test below runs
// against; each call returns a fresh, empty counter.
func counterBackends(t *testing.T) map[string]func() Counter {
	c := redisClient(t)
	n := 0
	return map[string]func() Counter{
		"memory": func() Counter { return NewMemory() },
		"redis": func() Counter {
			n++
			return NewRedis(c, fmt.Sprintf("strata-test:%s:%d:%d:", t.Name(), time.Now().UnixNano(), n), 2*time.Second)
		},
	}
}

func TestCounterConformance(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 10, 0, 30, 0, time.UTC)
	rpm := Key{"rpm", "key", "k"}
	tpm := Key{"tpm", "key", "k"}
	par := Key{"parallel", "team", "t"}
	for name, open := range counterBackends(t) {
		t.Run(name, func(t *testing.T) {
			c := open()
			steps := []Step{
				{Key: tpm, Window: minute, Limit: 100},
				{Key: rpm, Window: minute, N: 1, Limit: 2},
				{Key: par, N: 1, Limit: 5},
			}
			for i := range 2 {
				got, err := c.Take(ctx, steps, nil, now)
				if err != nil {
					t.Fatal(err)
				}
				if got.Refused != -1 || got.Counts[1] != int64(i+1) || got.Counts[2] != int64(i+1) {
					t.Fatalf("take %d: %+v", i, got)
				}
			}
			// The third request passes rpm: nothing is taken, not even the parallel slot.
			got, err := c.Take(ctx, steps, nil, now)
			if err != nil || got.Refused != 1 || got.Counts[1] != 2 {
				t.Fatalf("third take: %+v, %v", got, err)
			}
			// Tokens fill tpm; a request is then refused on tpm alone.
			if err := c.Settle(ctx, []Step{{Key: tpm, Window: minute, N: 100}, {Key: par, N: -1}}, nil, now); err != nil {
				t.Fatal(err)
			}
			got, _ = c.Take(ctx, []Step{{Key: tpm, Window: minute, Limit: 100}}, nil, now)
			if got.Refused != 0 || got.Counts[0] != 100 {
				t.Errorf("tpm full: %+v", got)
			}
			// The next minute starts afresh; what is in flight stays.
			got, _ = c.Take(ctx, steps, nil, now.Add(minute))
			if got.Refused != -1 || got.Counts[0] != 0 || got.Counts[1] != 1 || got.Counts[2] != 2 {
				t.Errorf("next minute: %+v", got)
			}
			// Giving back more than was taken stops at 0.
			if err := c.Settle(ctx, []Step{{Key: par, N: -5}}, nil, now.Add(minute)); err != nil {
				t.Fatal(err)
			}
			got, _ = c.Take(ctx, []Step{{Key: par, N: 1, Limit: 1}}, nil, now.Add(minute))
			if got.Refused != -1 || got.Counts[0] != 1 {
				t.Errorf("in flight after giving back too much: %+v", got)
			}
		})
	}
}

// Two gateways with their own limiters on one Redis share an rpm limit,
// a parallel limit and a budget.
func TestRedisSharedAcrossGateways(t *testing.T) {
	ctx := context.Background()
	c := redisClient(t)
	prefix := fmt.Sprintf("strata-test:%s:%d:", t.Name(), time.Now().UnixNano())
	clk := newClock()
	a := New(Options{Counter: NewRedis(c, prefix, 2*time.Second), Now: clk.now})
	b := New(Options{Counter: NewRedis(c, prefix, 2*time.Second), Now: clk.now})
	key := []Scope{{Kind: "key", ID: "k", RPM: 10}}
	passed := 0
	for i := range 30 {
		l := a
		if i%2 == 1 {
			l = b
		}
		if lease, err := l.Admit(ctx, key, "m"); err == nil {
			passed++
			lease.End(ctx, 1, 0)
		}
	}
	if passed != 10 {
		t.Errorf("%d requests passed rpm_limit 10 over two gateways, want 10", passed)
	}

	par := []Scope{{Kind: "team", ID: "t", MaxParallel: 1}}
	lease, err := a.Admit(ctx, par, "m")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Admit(ctx, par, "m"); err == nil {
		t.Error("the other gateway took the team's only parallel slot too")
	}
	lease.End(ctx, 0, 0)
	if lease, err := b.Admit(ctx, par, "m"); err != nil {
		t.Errorf("slot given back on one gateway, still refused on the other: %v", err)
	} else {
		lease.End(ctx, 0, 0)
	}

	budgetScope := []Scope{{Kind: "user", ID: "u", MaxBudget: budget(1)}}
	lease, err = a.Admit(ctx, budgetScope, "m")
	if err != nil {
		t.Fatal(err)
	}
	lease.End(ctx, 10, 1.5) // spent on a
	lease, err = b.Admit(ctx, budgetScope, "m")
	if err == nil {
		lease.End(ctx, 0, 0)
		t.Fatal("a budget spent on one gateway was not refused on the other")
	}
	if _, ok := err.(*BudgetExceeded); !ok {
		t.Errorf("refusal %T %v, want *BudgetExceeded", err, err)
	}
}

type switchable struct{ up bool }

// With Redis down, a Failover counts in memory; leases settle where they
// were taken.
func TestFailoverCountsInMemoryWhileDown(t *testing.T) {
	ctx := context.Background()
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer down.Close()
	state := &switchable{up: true}
	var failures int
	mem := NewMemory()
	f := &Failover{Primary: NewRedis(down, "x:", time.Second), Fallback: mem,
		Up: func() bool { return state.up }, Down: func(error) { failures++; state.up = false }}
	l := New(Options{Counter: f})
	scope := []Scope{{Kind: "key", ID: "k", RPM: 1, MaxParallel: 1}}
	lease, err := l.Admit(ctx, scope, "m")
	if err != nil {
		t.Fatal(err)
	}
	if failures != 1 {
		t.Errorf("failures reported %d, want 1", failures)
	}
	if _, err := l.Admit(ctx, scope, "m"); err == nil {
		t.Error("memory fallback let a second request past rpm_limit 1")
	}
	lease.End(ctx, 0, 0)
	if n := mem.Get(counterKey("parallel", &scope[0]), 0, time.Now()); n != 0 {
		t.Errorf("parallel slot not given back to memory: %d", n)
	}
}
