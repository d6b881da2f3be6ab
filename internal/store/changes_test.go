package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/strata-gateway/strata/internal/store"
	"github.com/strata-gateway/strata/internal/store/storetest"
)

// listen opens a connection that LISTENs on the key changes channel of
// the database at url, as another gateway would.
func listen(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, "LISTEN "+store.KeyChangesChannel); err != nil {
		t.Fatal(err)
	}
	return conn
}

// heard reads the next n notifications, failing after 10 s.
func heard(t *testing.T, conn *pgx.Conn, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []string
	for len(out) < n {
		m, err := conn.WaitForNotification(ctx)
		if err != nil {
			t.Fatalf("after %q: %v", out, err)
		}
		if m.Channel != store.KeyChangesChannel {
			t.Fatalf("notification on %q", m.Channel)
		}
		out = append(out, m.Payload)
	}
	return out
}

// Every write to a key, team or user on PostgreSQL is announced, by the
// key's token or the id, when it commits; a write that fails is not.
func TestChangesAreAnnouncedOnPostgres(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	s, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn := listen(t, url)

	expect := func(what string, want ...string) {
		t.Helper()
		got := heard(t, conn, len(want))
		if !sameSet(got, want) {
			t.Fatalf("%s announced %q, want %q", what, got, want)
		}
	}
	key := func(token, team, user string) *store.Key {
		return &store.Key{Token: token, KeyName: "sk-..." + token, TeamID: team, UserID: user, CreatedAt: t0, UpdatedAt: t0}
	}

	if err := s.CreateTeam(ctx, &store.Team{TeamID: "t1", CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, &store.User{UserID: "u1", CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	k := key("tok1", "", "")
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	expect("CreateKey", "key:tok1")
	k.Blocked = true
	if err := s.UpdateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	expect("UpdateKey", "key:tok1")

	// A failed write rolls back its announcement: the next message is the
	// next change that was made.
	if err := s.CreateKey(ctx, key("tok1", "", "")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateKey twice: %v", err)
	}
	if err := s.UpdateKey(ctx, key("missing", "", "")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateKey of a missing key: %v", err)
	}
	k.Token = "tok2"
	if err := s.RegenerateKey(ctx, "tok1", k); err != nil {
		t.Fatal(err)
	}
	expect("RegenerateKey", "key:tok1", "key:tok2")
	if err := s.DeleteKey(ctx, "tok2"); err != nil {
		t.Fatal(err)
	}
	expect("DeleteKey", "key:tok2")

	if err := s.UpdateTeam(ctx, &store.Team{TeamID: "t1", Blocked: true, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	expect("UpdateTeam", "team:t1")
	if err := s.UpdateUser(ctx, &store.User{UserID: "u1", Email: "u1@example.com", UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	expect("UpdateUser", "user:u1")
	for _, tok := range []string{"a", "b", "c"} {
		team, user := "t1", "u1"
		if tok == "c" {
			team = ""
		}
		if err := s.CreateKey(ctx, key(tok, team, user)); err != nil {
			t.Fatal(err)
		}
		expect("CreateKey", "key:"+tok)
	}
	if _, err := s.DeleteTeam(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	expect("DeleteTeam", "key:a", "key:b", "team:t1")
	if _, err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	expect("DeleteUser", "key:c", "user:u1")

	// An id too long to be named asks for everything to be read again.
	long := strings.Repeat("x", 8000)
	if err := s.CreateUser(ctx, &store.User{UserID: long, CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateUser(ctx, &store.User{UserID: long, UpdatedAt: t0}); err != nil {
		t.Fatalf("UpdateUser with a long id: %v", err)
	}
	expect("UpdateUser with a long id", store.KeyChangesAll)
}
