package auth_test

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-gateway/strata/internal/auth"
	"github.com/strata-gateway/strata/internal/store"
)

// memStore is the part of a store the authenticator reads, in memory,
// counting reads and able to fail like an unreachable database.
type memStore struct {
	store.Keys
	store.Teams
	store.Users

	mu    sync.Mutex
	keys  map[string]*store.Key
	teams map[string]*store.Team
	reads int
	down  bool
}

var errDown = errors.New("connection refused")

func (m *memStore) GetKey(_ context.Context, token string) (*store.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	if m.down {
		return nil, errDown
	}
	k, ok := m.keys[token]
	if !ok {
		return nil, store.ErrNotFound
	}
	c := *k
	return &c, nil
}

func (m *memStore) GetTeam(_ context.Context, id string) (*store.Team, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, errDown
	}
	t, ok := m.teams[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	c := *t
	return &c, nil
}

func (m *memStore) GetUser(context.Context, string) (*store.User, error) {
	return nil, store.ErrNotFound
}

func (m *memStore) set(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f()
}

func (m *memStore) readCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reads
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

const plainKey = "sk-unit-test-key-0001"

func setup(t *testing.T) (*auth.Authenticator, *memStore, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	ms := &memStore{
		keys:  map[string]*store.Key{auth.HashKey(plainKey): {Token: auth.HashKey(plainKey), Alias: "bot", TeamID: "t1", Limits: store.Limits{Models: []string{"claude"}}}},
		teams: map[string]*store.Team{"t1": {TeamID: "t1", Limits: store.Limits{Models: []string{"claude", "titan"}}}},
	}
	a := auth.New(auth.Options{MasterKey: "sk-master-unit", Store: ms, CacheTTL: time.Minute, Now: clk.now})
	return a, ms, clk
}

func reason(t *testing.T, err error) auth.Reason {
	t.Helper()
	var ae *auth.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an *auth.Error", err)
	}
	return ae.Reason
}

func TestMasterAndMissing(t *testing.T) {
	a, ms, _ := setup(t)
	ctx := context.Background()
	p, err := a.Authenticate(ctx, "sk-master-unit")
	if err != nil || !p.Master {
		t.Fatalf("master key: %+v, %v", p, err)
	}
	if _, err := a.Authenticate(ctx, "sk-master-unix"); reason(t, err) != auth.ReasonUnknown {
		t.Fatalf("near-miss of the master key accepted")
	}
	if _, err := a.Authenticate(ctx, ""); reason(t, err) != auth.ReasonMissing {
		t.Fatalf("missing key: %v", err)
	}
	if ms.readCount() != 1 {
		t.Fatalf("%d store reads, want 1 (the unknown key only)", ms.readCount())
	}
}

func TestSetMasterKeyRotates(t *testing.T) {
	a, _, _ := setup(t)
	ctx := context.Background()
	a.SetMasterKey("sk-master-rotated")
	if _, err := a.Authenticate(ctx, "sk-master-unit"); reason(t, err) != auth.ReasonUnknown {
		t.Errorf("the old master key still works: %v", err)
	}
	if p, err := a.Authenticate(ctx, "sk-master-rotated"); err != nil || !p.Master || !a.IsMaster("sk-master-rotated") {
		t.Errorf("the new master key: %+v, %v", p, err)
	}
}

func TestKeyCachedWithinTTL(t *testing.T) {
	a, ms, clk := setup(t)
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		p, err := a.Authenticate(ctx, plainKey)
		if err != nil || p.KeyAlias() != "bot" || p.Team == nil || p.Team.TeamID != "t1" {
			t.Fatalf("Authenticate: %+v, %v", p, err)
		}
	}
	if n := ms.readCount(); n != 1 {
		t.Fatalf("%d store reads for 100 requests, want 1", n)
	}
	// Past the TTL the entry is served at once and read again behind the
	// request: a change made elsewhere shows on a later request.
	ms.set(func() { ms.keys[auth.HashKey(plainKey)].Alias = "renamed" })
	clk.t = clk.t.Add(2 * time.Minute)
	if p, err := a.Authenticate(ctx, plainKey); err != nil || p.KeyAlias() != "bot" {
		t.Fatalf("stale entry: %+v, %v", p, err)
	}
	for {
		p, err := a.Authenticate(ctx, plainKey)
		if err != nil {
			t.Fatal(err)
		}
		if p.KeyAlias() == "renamed" {
			break
		}
		runtime.Gosched()
	}
	if n := ms.readCount(); n != 2 {
		t.Fatalf("%d store reads after the TTL, want 2", n)
	}
}

func TestUnknownKeysAreRemembered(t *testing.T) {
	a, ms, clk := setup(t)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if _, err := a.Authenticate(ctx, "sk-made-up"); reason(t, err) != auth.ReasonUnknown {
			t.Fatal(err)
		}
	}
	if n := ms.readCount(); n != 1 {
		t.Fatalf("%d store reads for 10 requests with one made-up key, want 1", n)
	}
	// Created here: known at once.
	token := auth.HashKey("sk-made-up")
	ms.set(func() { ms.keys[token] = &store.Key{Token: token} })
	a.InvalidateKey(token)
	if _, err := a.Authenticate(ctx, "sk-made-up"); err != nil {
		t.Fatalf("a key created after it was tried: %v", err)
	}
	// Created elsewhere: known once the memory of it ends.
	if _, err := a.Authenticate(ctx, "sk-later"); reason(t, err) != auth.ReasonUnknown {
		t.Fatal(err)
	}
	ms.set(func() { ms.keys[auth.HashKey("sk-later")] = &store.Key{Token: auth.HashKey("sk-later")} })
	clk.t = clk.t.Add(11 * time.Second)
	if _, err := a.Authenticate(ctx, "sk-later"); err != nil {
		t.Fatalf("a key created elsewhere, after the memory ends: %v", err)
	}
}

func TestInvalidationAppliesAtOnce(t *testing.T) {
	a, ms, _ := setup(t)
	ctx := context.Background()
	token := auth.HashKey(plainKey)
	if _, err := a.Authenticate(ctx, plainKey); err != nil {
		t.Fatal(err)
	}
	ms.set(func() { ms.keys[token].Blocked = true })
	if _, err := a.Authenticate(ctx, plainKey); err != nil {
		t.Fatalf("cached key refused before invalidation: %v", err)
	}
	a.InvalidateKey(token)
	if _, err := a.Authenticate(ctx, plainKey); reason(t, err) != auth.ReasonBlocked {
		t.Fatalf("blocked key after invalidation: %v", err)
	}
	ms.set(func() { ms.keys[token].Blocked = false; ms.teams["t1"].Blocked = true })
	a.InvalidateTeam("t1")
	if _, err := a.Authenticate(ctx, plainKey); reason(t, err) != auth.ReasonBlocked {
		t.Fatalf("key of a blocked team: %v", err)
	}
	ms.set(func() { delete(ms.keys, token) })
	a.InvalidateKey(token)
	if _, err := a.Authenticate(ctx, plainKey); reason(t, err) != auth.ReasonUnknown {
		t.Fatalf("deleted key: %v", err)
	}
}

func TestDatabaseDownServesCachedKeys(t *testing.T) {
	a, ms, clk := setup(t)
	ctx := context.Background()
	if _, err := a.Authenticate(ctx, plainKey); err != nil {
		t.Fatal(err)
	}
	ms.set(func() { ms.down = true })
	clk.t = clk.t.Add(time.Hour) // the entry is stale; the refresh fails
	p, err := a.Authenticate(ctx, plainKey)
	if err != nil || p.KeyAlias() != "bot" {
		t.Fatalf("cached key during an outage: %+v, %v", p, err)
	}
	// A key never seen cannot be checked: 503, not 401.
	_, err = a.Authenticate(ctx, "sk-never-seen-before")
	if reason(t, err) != auth.ReasonUnavailable {
		t.Fatalf("unknown key during an outage: %v", err)
	}
	var ae *auth.Error
	errors.As(err, &ae)
	if ae.Status() != http.StatusServiceUnavailable || strings.Contains(ae.Message, "refused") {
		t.Fatalf("outage refusal: %d %q (the client must not see the database's error)", ae.Status(), ae.Message)
	}
}

func TestExpiry(t *testing.T) {
	a, ms, clk := setup(t)
	exp := clk.t.Add(time.Minute)
	ms.set(func() { ms.keys[auth.HashKey(plainKey)].Expires = &exp })
	if _, err := a.Authenticate(context.Background(), plainKey); err != nil {
		t.Fatal(err)
	}
	clk.t = exp
	if _, err := a.Authenticate(context.Background(), plainKey); reason(t, err) != auth.ReasonExpired {
		t.Fatalf("expired key: %v", err)
	}
}

func TestCheckModel(t *testing.T) {
	a, ms, _ := setup(t)
	p, err := a.Authenticate(context.Background(), plainKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckModel("claude"); err != nil {
		t.Fatalf("claude: %v", err)
	}
	err = p.CheckModel("titan")
	if reason(t, err) != auth.ReasonKeyModel || !strings.Contains(err.Error(), "titan") || !strings.Contains(err.Error(), "bot") {
		t.Fatalf("titan: %v", err)
	}
	// A key that defers to its team is bounded by the team alone.
	token := auth.HashKey(plainKey)
	ms.set(func() { ms.keys[token].Models = []string{"all-team-models"} })
	a.InvalidateKey(token)
	p, _ = a.Authenticate(context.Background(), plainKey)
	if err := p.CheckModel("titan"); err != nil {
		t.Fatalf("titan via the team: %v", err)
	}
	if err := p.CheckModel("nova"); reason(t, err) != auth.ReasonTeamModel {
		t.Fatalf("nova outside the team: %v", err)
	}
	var none *auth.Principal
	if err := none.CheckModel("anything"); err != nil {
		t.Fatalf("no authentication: %v", err)
	}
}

func TestKeyFromRequest(t *testing.T) {
	for _, c := range []struct{ header, value, want string }{
		{"Authorization", "Bearer sk-a", "sk-a"},
		{"Authorization", "bearer  sk-b ", "sk-b"},
		{"x-api-key", "sk-c", "sk-c"},
		{"api-key", "sk-d", "sk-d"},
		{"x-litellm-api-key", "sk-e", "sk-e"},
		{"Authorization", "Basic Zm9vOmJhcg==", ""},
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set(c.header, c.value)
		if got := auth.KeyFromRequest(r); got != c.want {
			t.Errorf("%s: %q -> %q, want %q", c.header, c.value, got, c.want)
		}
	}
}

// BenchmarkAuthenticateCached is the hot path: a key already in the cache.
func BenchmarkAuthenticateCached(b *testing.B) {
	ms := &memStore{keys: map[string]*store.Key{auth.HashKey(plainKey): {Token: auth.HashKey(plainKey)}}}
	a := auth.New(auth.Options{MasterKey: "sk-master-unit", Store: ms})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := a.Authenticate(ctx, plainKey); err != nil {
				b.Fatal(err)
			}
		}
	})
}
