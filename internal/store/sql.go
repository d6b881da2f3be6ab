package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// sqlStore is the one implementation, over database/sql, for both databases.
type sqlStore struct {
	db         *sql.DB
	d          dialect
	closeExtra func()
	pool       *pgxpool.Pool // PostgreSQL only: the pool under db, for COPY

	spendInserts map[spendInsertKey]*sql.Stmt // SQLite only, read-only once open
}

func (s *sqlStore) Driver() string { return s.d.name }

func (s *sqlStore) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

func (s *sqlStore) Close() error {
	for _, st := range s.spendInserts {
		st.Close()
	}
	err := s.db.Close()
	if s.closeExtra != nil {
		s.closeExtra()
	}
	return err
}

// q turns a query written with ? placeholders into the dialect's.
func (s *sqlStore) q(query string) string {
	if !s.d.numbered {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

func (s *sqlStore) t(t time.Time) any { return s.d.timeArg(t) }

func (s *sqlStore) tp(t *time.Time) any {
	if t == nil {
		return nil
	}
	return s.d.timeArg(*t)
}

// migrationAdvisoryLock is the Postgres advisory lock that lets one
// instance at a time migrate a shared database.
const migrationAdvisoryLock = 7_205_381_112

// migrate applies, in order and each in its own transaction, the embedded
// migrations the database has not recorded yet.
func (s *sqlStore) migrate(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	if s.d.name == "postgres" {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationAdvisoryLock); err != nil {
			return fmt.Errorf("lock for migrations: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationAdvisoryLock)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version BIGINT PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at_ms BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	applied := map[int]bool{}
	newest := 0
	rows, err := conn.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = true
		newest = max(newest, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	files, err := migrationFiles(s.d.migrations)
	if err != nil {
		return err
	}
	if len(files) > 0 && newest > files[len(files)-1].version {
		return fmt.Errorf("the database's schema is at version %d, newer than this Strata knows (%d): run a newer Strata", newest, files[len(files)-1].version)
	}
	for _, m := range files {
		if applied[m.version] {
			continue
		}
		body, err := fs.ReadFile(s.d.migrations, m.name)
		if err != nil {
			return err
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, s.q("INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?, ?, ?)"),
			m.version, m.name, time.Now().UnixMilli()); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

type migrationFile struct {
	version int
	name    string
}

// migrationFiles lists NNNN_name.sql files in version order.
func migrationFiles(fsys fs.FS) ([]migrationFile, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	var out []migrationFile
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("embedded migration %q is not named NNNN_name.sql", name)
		}
		out = append(out, migrationFile{version: v, name: name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// SchemaVersion reports the newest migration applied (for tests and /health).
func SchemaVersion(ctx context.Context, st Store) (int, error) {
	s, ok := st.(*sqlStore)
	if !ok {
		return 0, errors.New("not a SQL store")
	}
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v)
	return int(v.Int64), err
}

// isUniqueViolation tells a duplicate id or alias from other failures.
func isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || // SQLite
		strings.Contains(msg, "SQLSTATE 23505") // Postgres unique_violation
}

// timeCol scans a time written by either dialect: Unix milliseconds
// (SQLite) or a timestamp (Postgres). A NULL leaves it nil.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMilli(v).UTC()
	case time.Time:
		*c.t = v.UTC()
	default:
		return fmt.Errorf("unexpected time value %T", src)
	}
	return nil
}

// nullTimeCol scans a nullable time into a *time.Time.
type nullTimeCol struct{ t **time.Time }

func (c nullTimeCol) Scan(src any) error {
	if src == nil {
		*c.t = nil
		return nil
	}
	var t time.Time
	if err := (timeCol{&t}).Scan(src); err != nil {
		return err
	}
	*c.t = &t
	return nil
}

// jsonCol scans JSON text into v.
type jsonCol struct{ v any }

func (c jsonCol) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("unexpected JSON value %T", src)
	}
	switch string(b) {
	case "", "null", "{}", "[]":
		return nil // empty reads back as nil, as it was written
	}
	return json.Unmarshal(b, c.v)
}

// boolCol scans SQLite's 0/1 and Postgres's booleans.
type boolCol struct{ b *bool }

func (c boolCol) Scan(src any) error {
	switch v := src.(type) {
	case bool:
		*c.b = v
	case int64:
		*c.b = v != 0
	case nil:
		*c.b = false
	default:
		return fmt.Errorf("unexpected boolean value %T", src)
	}
	return nil
}

// nullString writes "" as NULL (for unique columns that are optional).
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

type nullStringCol struct{ s *string }

func (c nullStringCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.s = ""
	case string:
		*c.s = v
	case []byte:
		*c.s = string(v)
	default:
		return fmt.Errorf("unexpected text value %T", src)
	}
	return nil
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}

func listText(l []string) string {
	if l == nil {
		l = []string{}
	}
	return jsonText(l)
}

func mapText[V any](m map[string]V) string {
	if m == nil {
		return "{}"
	}
	return jsonText(m)
}

func nullFloat(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func nullInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

type nullFloatCol struct{ p **float64 }

func (c nullFloatCol) Scan(src any) error {
	var n sql.NullFloat64
	if err := n.Scan(src); err != nil {
		return err
	}
	if n.Valid {
		v := n.Float64
		*c.p = &v
	} else {
		*c.p = nil
	}
	return nil
}

type nullIntCol struct{ p **int64 }

func (c nullIntCol) Scan(src any) error {
	var n sql.NullInt64
	if err := n.Scan(src); err != nil {
		return err
	}
	if n.Valid {
		v := n.Int64
		*c.p = &v
	} else {
		*c.p = nil
	}
	return nil
}

// limitColumns are the Limits columns every aggregate table has, in the
// order limitArgs and limitDest use.
const limitColumns = "models, max_budget, soft_budget, budget_duration, budget_reset_at, rpm_limit, tpm_limit, max_parallel_requests, model_max_budget"

func (s *sqlStore) limitArgs(l *Limits) []any {
	return []any{listText(l.Models), nullFloat(l.MaxBudget), nullFloat(l.SoftBudget), l.BudgetDuration, s.tp(l.BudgetResetAt),
		nullInt(l.RPMLimit), nullInt(l.TPMLimit), nullInt(l.MaxParallelRequests), mapText(l.ModelMaxBudget)}
}

func limitDest(l *Limits) []any {
	return []any{jsonCol{&l.Models}, nullFloatCol{&l.MaxBudget}, nullFloatCol{&l.SoftBudget}, &l.BudgetDuration, nullTimeCol{&l.BudgetResetAt},
		nullIntCol{&l.RPMLimit}, nullIntCol{&l.TPMLimit}, nullIntCol{&l.MaxParallelRequests}, jsonCol{&l.ModelMaxBudget}}
}

// placeholders returns "?, ?, ..." for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// assignments returns "a = ?, b = ?" for a comma-separated column list.
func assignments(cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p) + " = ?"
	}
	return strings.Join(parts, ", ")
}

func pageClause(page, size int) string {
	if size <= 0 {
		return ""
	}
	if page < 1 {
		page = 1
	}
	return fmt.Sprintf(" LIMIT %d OFFSET %d", size, (page-1)*size)
}

// affectedOne turns an UPDATE or DELETE result into ErrNotFound when it
// touched nothing.
func affectedOne(res sql.Result, err error, what string) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}

func (s *sqlStore) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
