package store

import (
	"context"
	"database/sql"
)

// KeyChangesChannel is the PostgreSQL channel on which every change to a
// key, team or user is announced to the gateways sharing the database, so
// that they drop their cached copy. A message names what changed:
// "key:<token>", "team:<id>" or "user:<id>" (never a plain key), or
// KeyChangesAll.
const KeyChangesChannel = "strata_key_changes"

// KeyChangesAll is the message that stands for an id too long to be
// named in a notification: every cached key must be read again.
const KeyChangesAll = "all"

// maxNotifyPayload is below PostgreSQL's limit on a notification's
// payload (8000 bytes).
const maxNotifyPayload = 7999

func keyChange(token string) string   { return changeOf("key", token) }
func teamChange(teamID string) string { return changeOf("team", teamID) }
func userChange(userID string) string { return changeOf("user", userID) }

func changeOf(kind, id string) string {
	if len(kind)+1+len(id) > maxNotifyPayload {
		return KeyChangesAll
	}
	return kind + ":" + id
}

// change runs fn, which writes one change to keys, teams or users in tx
// and says what it changed. On PostgreSQL the change is announced on
// KeyChangesChannel in the same transaction: listeners hear of it when it
// commits, and never of one rolled back. SQLite serves one gateway,
// which keeps its own cache in step: nothing is announced.
func (s *sqlStore) change(ctx context.Context, fn func(tx *sql.Tx) (changed []string, err error)) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		changed, err := fn(tx)
		if err != nil || s.d.name != "postgres" || len(changed) == 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, "SELECT pg_notify($1, c) FROM unnest($2::text[]) AS c", KeyChangesChannel, changed)
		return err
	})
}

func keyChanges(tokens []string) []string {
	out := make([]string, 0, len(tokens)+1)
	for _, t := range tokens {
		out = append(out, keyChange(t))
	}
	return out
}
