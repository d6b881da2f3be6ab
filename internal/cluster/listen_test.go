package cluster

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-gateway/strata/internal/store"
	"github.com/strata-gateway/strata/internal/store/storetest"
)

func (c *keyCache) count(e string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, x := range c.events {
		if x == e {
			n++
		}
	}
	return n
}

// logLines is a logger's output, safe to read while it writes.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logLines) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), s)
}

// runListener runs a KeyListener on o into local until the test ends.
func runListener(t *testing.T, o ListenOptions, local KeyCache) *KeyListener {
	t.Helper()
	l, err := NewKeyListener(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx, local); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return l
}

// gauge is the one gauge reg holds, by name.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || mfs[0].GetName() != name {
		t.Fatalf("gathered %v, %v", mfs, err)
	}
	return mfs[0].GetMetric()[0].GetGauge().GetValue()
}

// terminateListeners ends the listening connections to the database at
// url from the server's side, as an administrator or a failover would,
// and says how many there were.
func terminateListeners(t *testing.T, url string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND datname = current_database()`, ListenerApplicationName).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// listenerQuery is the last statement the listening connection to the
// database at url ran, as pg_stat_activity shows it.
func listenerQuery(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var q string
	err = conn.QueryRow(ctx, `SELECT coalesce(max(query), '') FROM pg_stat_activity
		WHERE application_name = $1 AND datname = current_database()`, ListenerApplicationName).Scan(&q)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// A change one gateway's store makes reaches the listener of another on
// the same PostgreSQL. When its connection is cut, the listener connects
// again, empties the cache (changes made meanwhile were missed) and
// hears the next ones.
func TestKeyListenerHearsStoreChanges(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var local keyCache
	var logs logLines
	reg := prometheus.NewRegistry()
	l := runListener(t, ListenOptions{DatabaseURL: url, Registerer: reg, PingAfter: 50 * time.Millisecond, RetryMin: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}, &local)
	eventually(t, "listening", l.Listening)
	if n := local.count("all"); n != 1 {
		t.Errorf("cache emptied %d times on first listening, want 1", n)
	}
	if n := gauge(t, reg, "strata_postgres_listener_up"); n != 1 {
		t.Errorf("strata_postgres_listener_up %v while listening, want 1", n)
	}

	now := time.Now().UTC()
	k := &store.Key{Token: "tok1", KeyName: "sk-...tok1", CreatedAt: now, UpdatedAt: now}
	if err := st.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTeam(ctx, &store.Team{TeamID: "t1", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateTeam(ctx, &store.Team{TeamID: "t1", Blocked: true, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the key's and the team's changes heard", func() bool { return local.has("key:tok1") && local.has("team:t1") })
	// Silent past PingAfter, the connection is pinged and kept.
	eventually(t, "the listening connection pinged", func() bool { return listenerQuery(t, url) == "-- ping" })
	if err := st.UpdateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a change heard after a ping", func() bool { return local.count("key:tok1") == 2 })
	if !l.Listening() || local.count("all") != 1 {
		t.Fatalf("listening %v, emptied %d times, after a silence with pings", l.Listening(), local.count("all"))
	}

	if n := terminateListeners(t, url); n != 1 {
		t.Fatalf("terminated %d listening connections, want 1", n)
	}
	eventually(t, "the cache emptied on listening again", func() bool { return local.count("all") == 2 && l.Listening() })
	if err := st.DeleteKey(ctx, "tok1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the key's deletion heard after connecting again", func() bool { return local.count("key:tok1") == 3 })
	if n := logs.count("level=WARN"); n != 1 {
		t.Errorf("%d warnings for one lost connection, want 1:\n%s", n, logs.buf.String())
	}
}

// A database that does not answer is tried again and again, with one
// warning; the gauge says the gateway does not listen.
func TestKeyListenerWarnsOnceWhileDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var local keyCache
	var logs logLines
	reg := prometheus.NewRegistry()
	l := runListener(t, ListenOptions{DatabaseURL: "postgres://strata:s3cret-pw@" + addr + "/strata", Registerer: reg,
		RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, &local)
	eventually(t, "three attempts", func() bool { return logs.count("connecting again failed") >= 3 })
	if l.Listening() || gauge(t, reg, "strata_postgres_listener_up") != 0 {
		t.Error("listening with no server")
	}
	if n := logs.count("level=WARN"); n != 1 {
		t.Errorf("%d warnings, want 1", n)
	}
	if strings.Contains(logs.buf.String(), "s3cret-pw") {
		t.Error("the password was logged")
	}
	if local.count("all") != 0 {
		t.Error("the cache was emptied without listening")
	}
}

func TestKeyListenerRefusesAURLItCannotRead(t *testing.T) {
	_, err := NewKeyListener(ListenOptions{DatabaseURL: "postgres://strata:s3cret-pw@127.0.0.1:notaport/strata"})
	if err == nil {
		t.Fatal("a URL with no port number was accepted")
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("the error names the password: %v", err)
	}
}

// A message names one key, team or user; any other (an id too long to be
// named, or a kind this version does not know) empties the cache rather
// than being ignored.
func TestApplyKeyChange(t *testing.T) {
	for payload, want := range map[string]string{
		"key:abc": "key:abc", "team:t:1": "team:t:1", "user:u1": "user:u1",
		store.KeyChangesAll: "all", "route:x": "all", "": "all",
	} {
		var local keyCache
		applyKeyChange(&local, payload)
		if len(local.events) != 1 || local.events[0] != want {
			t.Errorf("%q: cache told %q, want %q", payload, local.events, want)
		}
	}
}
