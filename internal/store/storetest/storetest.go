// Package storetest gives tests a database of their own: a SQLite file in
// a temporary directory, or a fresh database on the PostgreSQL server that
// scripts/test starts (STRATA_TEST_POSTGRES_URL).
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// PostgresEnv names the variable holding a PostgreSQL superuser URL.
const PostgresEnv = "STRATA_TEST_POSTGRES_URL"

// Drivers are the databases every store test runs on.
var Drivers = []string{"sqlite", "postgres"}

// URL returns a database_url for an empty database of driver, dropped
// when the test ends. A missing PostgreSQL server fails the test.
func URL(t testing.TB, driver string) string {
	t.Helper()
	if driver == "sqlite" {
		return "sqlite://" + filepath.Join(t.TempDir(), "strata.db")
	}
	return PostgresURL(t)
}

// PostgresURL creates a fresh database on the test server and returns its URL.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(PostgresEnv)
	if admin == "" {
		t.Fatalf("%s is not set: run the tests with scripts/test, which starts PostgreSQL", PostgresEnv)
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("open %s: %v", PostgresEnv, err)
	}
	defer db.Close()
	name := "strata_test_" + strings.ToLower(rand.Text()[:12])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}
