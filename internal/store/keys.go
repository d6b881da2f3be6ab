package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

const keyColumns = "token, key_name, key_alias, team_id, user_id, " + limitColumns + ", spend, metadata, tags, blocked, expires, created_at, updated_at"

// keyUpdateColumns are what UpdateKey and RegenerateKey write.
const keyUpdateColumns = "key_name, key_alias, team_id, user_id, " + limitColumns + ", metadata, tags, blocked, expires, updated_at"

func (s *sqlStore) keyUpdateArgs(k *Key) []any {
	args := []any{k.KeyName, nullString(k.Alias), nullString(k.TeamID), nullString(k.UserID)}
	args = append(args, s.limitArgs(&k.Limits)...)
	return append(args, mapText(k.Metadata), listText(k.Tags), k.Blocked, s.tp(k.Expires), s.t(k.UpdatedAt))
}

func scanKey(row interface{ Scan(...any) error }) (*Key, error) {
	k := &Key{}
	dest := []any{&k.Token, &k.KeyName, nullStringCol{&k.Alias}, nullStringCol{&k.TeamID}, nullStringCol{&k.UserID}}
	dest = append(dest, limitDest(&k.Limits)...)
	dest = append(dest, &k.Spend, jsonCol{&k.Metadata}, jsonCol{&k.Tags}, boolCol{&k.Blocked}, nullTimeCol{&k.Expires},
		timeCol{&k.CreatedAt}, timeCol{&k.UpdatedAt})
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	return k, nil
}

func (s *sqlStore) CreateKey(ctx context.Context, k *Key) error {
	args := []any{k.Token, k.KeyName, nullString(k.Alias), nullString(k.TeamID), nullString(k.UserID)}
	args = append(args, s.limitArgs(&k.Limits)...)
	args = append(args, k.Spend, mapText(k.Metadata), listText(k.Tags), k.Blocked, s.tp(k.Expires), s.t(k.CreatedAt), s.t(k.UpdatedAt))
	err := s.change(ctx, func(tx *sql.Tx) ([]string, error) {
		// Announced too: a gateway may remember the token as unknown.
		_, err := tx.ExecContext(ctx, s.q("INSERT INTO api_keys ("+keyColumns+") VALUES ("+placeholders(len(args))+")"), args...)
		return []string{keyChange(k.Token)}, err
	})
	if isUniqueViolation(err) {
		return fmt.Errorf("key: %w", ErrConflict)
	}
	return err
}

func (s *sqlStore) GetKey(ctx context.Context, token string) (*Key, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, s.q("SELECT "+keyColumns+" FROM api_keys WHERE token = ?"), token))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("key: %w", ErrNotFound)
	}
	return k, err
}

func (s *sqlStore) UpdateKey(ctx context.Context, k *Key) error {
	args := append(s.keyUpdateArgs(k), k.Token)
	err := s.change(ctx, func(tx *sql.Tx) ([]string, error) {
		res, err := tx.ExecContext(ctx, s.q("UPDATE api_keys SET "+assignments(keyUpdateColumns)+" WHERE token = ?"), args...)
		return []string{keyChange(k.Token)}, affectedOne(res, err, "key")
	})
	if isUniqueViolation(err) {
		return fmt.Errorf("key alias: %w", ErrConflict)
	}
	return err
}

func (s *sqlStore) DeleteKey(ctx context.Context, token string) error {
	return s.change(ctx, func(tx *sql.Tx) ([]string, error) {
		res, err := tx.ExecContext(ctx, s.q("DELETE FROM api_keys WHERE token = ?"), token)
		return []string{keyChange(token)}, affectedOne(res, err, "key")
	})
}

func (s *sqlStore) RegenerateKey(ctx context.Context, oldToken string, k *Key) error {
	args := append([]any{k.Token}, s.keyUpdateArgs(k)...)
	args = append(args, oldToken)
	err := s.change(ctx, func(tx *sql.Tx) ([]string, error) {
		res, err := tx.ExecContext(ctx, s.q("UPDATE api_keys SET token = ?, "+assignments(keyUpdateColumns)+" WHERE token = ?"), args...)
		return []string{keyChange(oldToken), keyChange(k.Token)}, affectedOne(res, err, "key")
	})
	if isUniqueViolation(err) {
		return fmt.Errorf("key: %w", ErrConflict)
	}
	return err
}

func (s *sqlStore) ListKeys(ctx context.Context, f KeyFilter) ([]*Key, int, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"team_id", f.TeamID}, {"user_id", f.UserID}, {"key_alias", f.Alias}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.db.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM api_keys"+cond), args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.QueryContext(ctx, s.q("SELECT "+keyColumns+" FROM api_keys"+cond+" ORDER BY created_at, token"+pageClause(f.Page, f.Size)), args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, k)
	}
	return out, total, rows.Err()
}

// deleteKeysWhere deletes the keys of a team or user inside tx and returns their tokens.
func (s *sqlStore) deleteKeysWhere(ctx context.Context, tx *sql.Tx, col, id string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, s.q("SELECT token FROM api_keys WHERE "+col+" = ?"), id)
	if err != nil {
		return nil, err
	}
	var tokens []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return nil, err
		}
		tokens = append(tokens, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, s.q("DELETE FROM api_keys WHERE "+col+" = ?"), id); err != nil {
		return nil, err
	}
	return tokens, nil
}
