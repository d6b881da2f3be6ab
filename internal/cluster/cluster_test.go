package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// testURL is the test Redis server scripts/test starts, on a database of
// its own; a test that needs it fails when it is not there.
func testURL(t *testing.T) string {
	t.Helper()
	raw := os.Getenv("STRATA_TEST_REDIS_URL")
	if raw == "" {
		t.Fatal("STRATA_TEST_REDIS_URL is unset: run the tests with scripts/test, which starts a Redis server")
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/9"
	return u.String()
}

// open connects a gateway's Redis and runs its ping loop until the test ends.
func open(t *testing.T, o Options) *Redis {
	t.Helper()
	if o.URL == "" {
		o.URL = testURL(t)
	}
	if o.PingEvery == 0 {
		o.PingEvery = 10 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	r, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; r.Close() })
	return r
}

// eventually polls cond until it holds; the test fails after 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNewRefusesAURLItCannotRead(t *testing.T) {
	if _, err := New(context.Background(), Options{URL: "http://127.0.0.1:6379"}); err == nil {
		t.Error("an http:// URL was accepted")
	}
}

// A server that does not answer at start is no error: the gateway starts
// on its own counts, and Publish refuses at once.
func TestStartsDownWithoutAServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	reg := prometheus.NewRegistry()
	r := open(t, Options{URL: "redis://" + addr, CallTimeout: 200 * time.Millisecond, Registerer: reg})
	if r.Up() {
		t.Error("Up with nothing listening")
	}
	if err := r.Publish(context.Background(), "keys", "key:x"); err == nil {
		t.Error("Publish succeeded with Redis down")
	}
	if n := redisUp(t, reg); n != 0 {
		t.Errorf("strata_redis_up %v, want 0", n)
	}
}

// redisUp is the strata_redis_up gauge reg holds.
func redisUp(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || mfs[0].GetName() != "strata_redis_up" {
		t.Fatalf("gathered %v, %v", mfs, err)
	}
	return mfs[0].GetMetric()[0].GetGauge().GetValue()
}

// A failed call marks Redis down; the ping loop finds it again and runs
// the rejoin hooks. A client leaving is not Redis's fault.
func TestDownThenRejoin(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := open(t, Options{Registerer: reg})
	if !r.Up() {
		t.Fatal("Redis not up at start")
	}
	if n := redisUp(t, reg); n != 1 {
		t.Errorf("strata_redis_up %v, want 1", n)
	}
	rejoined := make(chan struct{}, 1)
	r.OnRejoin(func() { rejoined <- struct{}{} })
	r.Down(fmt.Errorf("take: %w", context.Canceled))
	if !r.Up() {
		t.Error("a canceled call marked Redis down")
	}
	r.Down(errors.New("connection reset"))
	// The ping loop may already have brought it back; the hook says it did.
	<-rejoined
	eventually(t, "Redis up again", r.Up)
	if n := redisUp(t, reg); n != 1 {
		t.Errorf("strata_redis_up %v after rejoining, want 1", n)
	}
}

// keyCache records what a gateway's cache was told.
type keyCache struct {
	mu     sync.Mutex
	events []string
}

func (c *keyCache) add(e string) { c.mu.Lock(); c.events = append(c.events, e); c.mu.Unlock() }
func (c *keyCache) has(e string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range c.events {
		if x == e {
			return true
		}
	}
	return false
}
func (c *keyCache) InvalidateKey(token string) { c.add("key:" + token) }
func (c *keyCache) InvalidateTeam(id string)   { c.add("team:" + id) }
func (c *keyCache) InvalidateUser(id string)   { c.add("user:" + id) }
func (c *keyCache) InvalidateAll()             { c.add("all") }

// A key, team or user changed on one gateway is dropped from its own
// cache at once and from the other's through a message.
func TestKeyChangesReachTheOtherGateway(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var localA, localB keyCache
	a := open(t, Options{}).ShareKeyChanges(ctx, &localA)
	open(t, Options{}).ShareKeyChanges(ctx, &localB)
	id := fmt.Sprint(time.Now().UnixNano())
	for _, kind := range []string{"key", "team", "user"} {
		change := map[string]func(string){"key": a.InvalidateKey, "team": a.InvalidateTeam, "user": a.InvalidateUser}[kind]
		change(id)
		if !localA.has(kind + ":" + id) {
			t.Errorf("%s change not applied on the gateway that made it", kind)
		}
		// b's subscription may not be in place yet: a message sent before is lost, so send again.
		eventually(t, kind+" change reaching the other gateway", func() bool {
			if localB.has(kind + ":" + id) {
				return true
			}
			change(id)
			return false
		})
	}
}

// After an outage, when messages may have been missed, the cache is
// emptied.
func TestKeyCacheEmptiedOnRejoin(t *testing.T) {
	var local keyCache
	r := open(t, Options{})
	r.ShareKeyChanges(context.Background(), &local)
	r.Down(errors.New("connection reset"))
	eventually(t, "the cache emptied after Redis answered again", func() bool { return local.has("all") })
}

// cooldownRouter records cooldowns and hands out the function that shares them.
type cooldownRouter struct {
	mu    sync.Mutex
	until map[string]time.Time
	share func(string, time.Time)
}

func newRouter() *cooldownRouter { return &cooldownRouter{until: map[string]time.Time{}} }

func (r *cooldownRouter) ShareCooldowns(f func(string, time.Time)) {
	r.mu.Lock()
	r.share = f
	r.mu.Unlock()
}
func (r *cooldownRouter) CoolDown(id string, until time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.until[id] = until
	return true
}
func (r *cooldownRouter) get(id string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.until[id]
}

// A cooldown one gateway starts reaches the other by message, and a
// gateway that starts later reads it from its key.
func TestCooldownsShared(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ra, rb, rc := newRouter(), newRouter(), newRouter()
	open(t, Options{}).ShareCooldowns(ctx, ra)
	open(t, Options{}).ShareCooldowns(ctx, rb)
	id := fmt.Sprint("deployment-", time.Now().UnixNano())
	until := time.UnixMilli(time.Now().Add(time.Minute).UnixMilli())
	eventually(t, "the cooldown reaching the other gateway", func() bool {
		if rb.get(id).Equal(until) {
			return true
		}
		ra.share(id, until)
		return false
	})
	open(t, Options{}).ShareCooldowns(ctx, rc)
	if got := rc.get(id); !got.Equal(until) {
		t.Errorf("gateway started later has cooldown until %v, want %v", got, until)
	}
}
