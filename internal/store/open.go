package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migrations
var migrations embed.FS

// dialect is what differs between the two databases; the queries are shared.
type dialect struct {
	name       string
	migrations fs.FS
	numbered   bool                // placeholders are $1, $2... instead of ?
	timeArg    func(time.Time) any // how a time is written
}

var sqliteDialect = dialect{
	name:    "sqlite",
	timeArg: func(t time.Time) any { return t.UnixMilli() },
}

var postgresDialect = dialect{
	name:     "postgres",
	numbered: true,
	timeArg:  func(t time.Time) any { return t.UTC() },
}

func init() {
	sqliteDialect.migrations, _ = fs.Sub(migrations, "migrations/sqlite")
	postgresDialect.migrations, _ = fs.Sub(migrations, "migrations/postgres")
}

// Open connects to the database databaseURL names and applies the schema
// migrations it lacks:
//
//	postgres://user:pass@host:5432/db   PostgreSQL (postgresql:// too)
//	sqlite:///var/lib/strata/strata.db  SQLite at an absolute path
//	sqlite://strata.db, strata.db       SQLite at a path relative to the working directory
//	sqlite::memory:                     a private in-memory SQLite (tests)
func Open(ctx context.Context, databaseURL string) (Store, error) {
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		return openPostgres(ctx, databaseURL)
	case databaseURL == "":
		return nil, fmt.Errorf("database_url is empty")
	case strings.Contains(databaseURL, "://") && !strings.HasPrefix(databaseURL, "sqlite://"):
		u, _ := url.Parse(databaseURL)
		scheme := "?"
		if u != nil {
			scheme = u.Scheme
		}
		return nil, fmt.Errorf("database_url: unsupported scheme %q: want postgresql:// or sqlite://", scheme)
	}
	return openSQLite(ctx, SQLitePath(databaseURL))
}

// SQLitePath is the file a sqlite database_url names.
func SQLitePath(databaseURL string) string {
	p := strings.TrimPrefix(databaseURL, "sqlite://")
	p = strings.TrimPrefix(p, "sqlite:")
	return p
}

// Redact hides the password of a database URL for messages and logs.
func Redact(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || u.User == nil {
		if err != nil && strings.Contains(databaseURL, "@") {
			return "[unparseable database URL]"
		}
		return databaseURL
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

func openSQLite(ctx context.Context, path string) (Store, error) {
	if path == "" {
		return nil, fmt.Errorf("database_url: no SQLite file named")
	}
	// One connection: SQLite has one writer anyway, and it keeps
	// ":memory:" databases alive and transactions free of SQLITE_BUSY.
	dsn := path + "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate"
	if path != ":memory:" {
		dsn += "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open SQLite database %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	s := &sqlStore{db: db, d: sqliteDialect}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("SQLite database %s: %w", path, err)
	}
	if err := s.prepareSpendInserts(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("SQLite database %s: %w", path, err)
	}
	return s, nil
}

func openPostgres(ctx context.Context, databaseURL string) (Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("database_url %s: %v", Redact(databaseURL), redactErr(err, databaseURL))
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database %s: %v", Redact(databaseURL), redactErr(err, databaseURL))
	}
	db := stdlib.OpenDBFromPool(pool)
	s := &sqlStore{db: db, d: postgresDialect, closeExtra: pool.Close, pool: pool}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("database %s: %v", Redact(databaseURL), redactErr(err, databaseURL))
	}
	return s, nil
}

// redactErr keeps a driver error's text but never the password it may quote.
func redactErr(err error, databaseURL string) string {
	msg := err.Error()
	if u, perr := url.Parse(databaseURL); perr == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg
}
