package e2e

import (
	"database/sql"
	"errors"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/strata-gateway/strata/internal/store/storetest"
)

// listenerPIDs are the server processes of the gateways' key changes
// listeners on the database at databaseURL.
func listenerPIDs(t *testing.T, databaseURL string) []int {
	t.Helper()
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctxTimeout(t), `SELECT pid FROM pg_stat_activity
		WHERE application_name = 'strata key changes' AND datname = current_database() ORDER BY pid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var pids []int
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return pids
}

// terminate ends server processes of PostgreSQL, as an administrator or a
// failover would.
func terminate(t *testing.T, pids []int) {
	t.Helper()
	db, err := sql.Open("pgx", os.Getenv(storetest.PostgresEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, pid := range pids {
		var ok bool
		if err := db.QueryRowContext(ctxTimeout(t), "SELECT pg_terminate_backend($1)", pid).Scan(&ok); err != nil || !ok {
			t.Fatalf("pg_terminate_backend(%d): %v %v", pid, ok, err)
		}
	}
}

// keyListenerHealth is GET /health's key_changes_listener status.
func keyListenerHealth(t *testing.T, g *keyGateway) string {
	t.Helper()
	var h struct {
		Listener *struct {
			Status string `json:"status"`
		} `json:"key_changes_listener"`
	}
	status, raw := g.call("GET", "/health", "Authorization", testMasterKey, "", &h)
	if status != http.StatusOK || h.Listener == nil {
		t.Fatalf("GET /health: %d %s", status, raw)
	}
	return h.Listener.Status
}

// refusedWith says whether err is the gateway's refusal with status and code.
func refusedWith(err error, status int, code string) bool {
	var apiErr *openai.Error
	return errors.As(err, &apiErr) && apiErr.StatusCode == status && apiErr.Code == code
}

// Two gateways on one PostgreSQL and no Redis: a key blocked, updated or
// deleted through one is refused by the other long before its cached copy
// expires, carried by PostgreSQL's LISTEN/NOTIFY; and still when the
// listening connection was cut and made again.
func TestInstancesShareKeyChangesThroughPostgres(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	dbURL := storetest.PostgresURL(t)
	// Cached copies would be trusted for ten minutes: only a notification reaches b in time.
	cfg := keysConfig(endpoint, dbURL, "  user_api_key_cache_ttl: 600\n")
	a, b := startPair(t, em, cfg)
	waitFor(t, 10*time.Second, "both gateways listening", func() bool {
		return keyListenerHealth(t, a) == "connected" && keyListenerHealth(t, b) == "connected"
	})
	var ready struct {
		Listener string `json:"key_changes_listener"`
	}
	if status, raw := b.call("GET", "/health/readiness", "", "", "", &ready); status != http.StatusOK || ready.Listener != "connected" {
		t.Errorf("GET /health/readiness: %d %s, want key_changes_listener connected", status, raw)
	}

	// refusedOnB waits until b refuses key for model as wanted, then checks
	// the refusal's shape and that it did not reach Bedrock.
	refusedOnB := func(what, key, model string, status int, code string, parts ...string) {
		t.Helper()
		took := waitFor(t, 5*time.Second, what, func() bool {
			_, err := b.chatAs(key, model)
			return refusedWith(err, status, code)
		})
		t.Logf("%s after %s", what, took)
		b.refusedChat(key, model, status, code, parts...)
	}

	var k generated
	a.admin("POST", "/key/generate", `{"key_alias":"pg-shared"}`, &k)
	b.mustChatAs(k.Key, "bedrock-claude") // b has it cached now
	a.admin("POST", "/key/block", `{"key":"`+k.Token+`"}`, nil)
	refusedOnB("the key blocked on a refused on b", k.Key, "bedrock-claude", 401, "blocked_key", "pg-shared")

	a.admin("POST", "/key/unblock", `{"key":"`+k.Token+`"}`, nil)
	waitFor(t, 5*time.Second, "the key unblocked on a served on b", func() bool {
		_, err := b.chatAs(k.Key, "bedrock-claude")
		return err == nil
	})
	a.admin("POST", "/key/update", `{"key":"`+k.Token+`","models":["bedrock-other"]}`, nil)
	refusedOnB("the key's new models on b", k.Key, "bedrock-claude", 403, "key_model_access_denied", "bedrock-claude")
	b.mustChatAs(k.Key, "bedrock-other")

	a.admin("POST", "/key/delete", `{"keys":["`+k.Key+`"]}`, nil)
	refusedOnB("the key deleted on a refused on b", k.Key, "bedrock-other", 401, "invalid_api_key")

	// A team's change reaches the keys of the team b has cached.
	var tk generated
	a.admin("POST", "/team/new", `{"team_id":"pg-team"}`, nil)
	a.admin("POST", "/key/generate", `{"key_alias":"pg-team-key","team_id":"pg-team"}`, &tk)
	b.mustChatAs(tk.Key, "bedrock-claude")
	a.admin("POST", "/team/update", `{"team_id":"pg-team","blocked":true}`, nil)
	refusedOnB("the team blocked on a refused on b", tk.Key, "bedrock-claude", 401, "blocked_key", "pg-team")

	// The listening connections cut: each gateway connects again, and the
	// next change still reaches b.
	old := listenerPIDs(t, dbURL)
	if len(old) != 2 {
		t.Fatalf("%d listening connections, want one per gateway", len(old))
	}
	terminate(t, old)
	waitFor(t, 30*time.Second, "both gateways listening again", func() bool {
		pids := listenerPIDs(t, dbURL)
		return len(pids) == 2 && !slices.Contains(old, pids[0]) && !slices.Contains(old, pids[1])
	})
	var k2 generated
	a.admin("POST", "/key/generate", `{"key_alias":"pg-after-cut"}`, &k2)
	b.mustChatAs(k2.Key, "bedrock-claude")
	a.admin("POST", "/key/block", `{"key":"`+k2.Token+`"}`, nil)
	refusedOnB("the key blocked on a refused on b after the cut", k2.Key, "bedrock-claude", 401, "blocked_key", "pg-after-cut")
	if keyListenerHealth(t, b) != "connected" {
		t.Error("b's /health does not say it listens again")
	}

	b.stop(t)
	if findLog(b.gateway, "not listening for key changes on PostgreSQL: changes made through other gateways show here when their cached copy expires, until the connection is back") == nil {
		t.Error("no log line says b's listening connection was lost")
	}
	if findLog(b.gateway, "listening for key changes on PostgreSQL again: this gateway's key cache was emptied, in case it missed some") == nil {
		t.Error("no log line says b listens again")
	}
}
