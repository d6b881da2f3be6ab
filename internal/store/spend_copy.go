package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// execer runs a statement in a transaction: a *sql.Tx, or a pgx one.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// pgxTx is a pgx transaction as an execer.
type pgxTx struct{ tx pgx.Tx }

func (t pgxTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	tag, err := t.tx.Exec(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return driver.RowsAffected(tag.RowsAffected()), nil
}

// spendColumnNames are spendColumns, for COPY.
var spendColumnNames = strings.Split(strings.ReplaceAll(spendColumns, " ", ""), ",")

// copySpendLogs writes rows that are all new with one COPY, and their
// spend in the same transaction. COPY sends the rows in pgx's binary
// format, with no statement to bind: a third of what the INSERTs cost the
// gateway's process per row. A row stored already fails the COPY
// (unique_violation): then nothing is written and errSpendLogStored says so.
func (s *sqlStore) copySpendLogs(ctx context.Context, rows []*SpendLog) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("insert spend logs: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"spend_logs"}, spendColumnNames, &spendRows{rows: rows}); err != nil {
		if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "23505" {
			return errSpendLogStored
		}
		return fmt.Errorf("insert spend logs: %w", err)
	}
	if err := s.addSpend(ctx, pgxTx{tx}, rows); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// spendRows is rows as a pgx.CopyFromSource. Values reuses one slice:
// COPY encodes a row before it asks for the next.
type spendRows struct {
	rows   []*SpendLog
	next   int
	values []any
}

func (r *spendRows) Next() bool {
	r.next++
	return r.next <= len(r.rows)
}

func (r *spendRows) Values() ([]any, error) {
	l := r.rows[r.next-1]
	var prompt any
	if l.Prompt != "" {
		prompt = l.Prompt
	}
	r.values = append(r.values[:0], l.ID, l.RequestID, l.KeyHash, l.KeyAlias, l.TeamID, l.UserID, l.EndUser,
		l.Model, l.Deployment, l.BedrockModel, l.PromptTokens, l.CompletionTokens, l.CacheReadTokens, l.CacheWriteTokens,
		l.Cost, l.StartTime.UTC(), l.EndTime.UTC(), l.Status, prompt)
	return r.values, nil
}

func (r *spendRows) Err() error { return nil }
