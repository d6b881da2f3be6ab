package store

import (
	"context"
	"database/sql"
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

	"github.com/strata-gateway/strata/internal/store/storetest"
)

// migrationsUpTo are a dialect's migrations up to version v.
func migrationsUpTo(t *testing.T, d dialect, v int) fs.FS {
	files, err := migrationFiles(d.migrations)
	if err != nil {
		t.Fatal(err)
	}
	out := fstest.MapFS{}
	for _, m := range files {
		if m.version > v {
			break
		}
		body, err := fs.ReadFile(d.migrations, m.name)
		if err != nil {
			t.Fatal(err)
		}
		out[m.name] = &fstest.MapFile{Data: body}
	}
	return out
}

// Spend logs written before their table was keyed by start time are kept
// by the migration that rebuilds it: read back the same, found by each
// filter, and a batch written again after it is still stored once.
func TestSpendLogsKeptByTimeKeyMigration(t *testing.T) {
	for _, driver := range storetest.Drivers {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			url := storetest.URL(t, driver)
			s := openForMigrationTest(t, driver, url)
			s.d.migrations = migrationsUpTo(t, s.d, 5)
			if err := s.migrate(ctx); err != nil {
				t.Fatal(err)
			}
			at := time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.UTC)
			rows := []SpendLog{
				{ID: "old-1", RequestID: "req-1", KeyHash: "k1", KeyAlias: "a1", TeamID: "t1", UserID: "u1", EndUser: "e1", Model: "claude",
					Deployment: "claude#0", BedrockModel: "anthropic.claude", PromptTokens: 10, CompletionTokens: 5, CacheReadTokens: 2,
					CacheWriteTokens: 1, Cost: 0.5, StartTime: at, EndTime: at.Add(time.Second), Status: "success", Prompt: "hi"},
				{ID: "old-2", RequestID: "req-2", Model: "titan", Cost: 0.25, StartTime: at.Add(time.Hour), EndTime: at.Add(time.Hour), Status: "failure"},
			}
			for _, r := range rows {
				if _, err := s.db.ExecContext(ctx, s.q("INSERT INTO spend_logs ("+spendColumns+") VALUES ("+placeholders(19)+")"),
					r.ID, r.RequestID, r.KeyHash, r.KeyAlias, r.TeamID, r.UserID, r.EndUser, r.Model, r.Deployment, r.BedrockModel,
					r.PromptTokens, r.CompletionTokens, r.CacheReadTokens, r.CacheWriteTokens, r.Cost, s.t(r.StartTime), s.t(r.EndTime),
					r.Status, nullString(r.Prompt)); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()

			st, err := Open(ctx, url)
			if err != nil {
				t.Fatalf("Open after version 5: %v", err)
			}
			defer st.Close()
			got, err := st.QuerySpendLogs(ctx, SpendFilter{})
			if err != nil || len(got) != 2 || got[0] != rows[0] || got[1] != rows[1] {
				t.Fatalf("spend logs after the migration: %+v, %v\nwant %+v", got, err, rows)
			}
			for _, f := range []SpendFilter{{KeyHash: "k1"}, {TeamID: "t1"}, {UserID: "u1"}, {RequestID: "req-1"},
				{Start: at, End: at.Add(time.Minute)}} {
				if got, err := st.QuerySpendLogs(ctx, f); err != nil || len(got) != 1 || got[0].ID != "old-1" {
					t.Errorf("QuerySpendLogs(%+v) = %+v, %v; want old-1", f, got, err)
				}
			}
			if n, err := st.InsertSpendLogs(ctx, rows); err != nil || n != 0 {
				t.Fatalf("InsertSpendLogs(stored rows) = %d, %v; want 0", n, err)
			}
		})
	}
}

// openForMigrationTest opens url without migrating it.
func openForMigrationTest(t *testing.T, driver, url string) *sqlStore {
	if driver == "sqlite" {
		db, err := sql.Open("sqlite", SQLitePath(url))
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		return &sqlStore{db: db, d: sqliteDialect}
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	return &sqlStore{db: db, d: postgresDialect}
}
