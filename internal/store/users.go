package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

const userColumns = "user_id, user_email, user_role, " + limitColumns + ", spend, metadata, created_at, updated_at"

const userUpdateColumns = "user_email, user_role, " + limitColumns + ", metadata, updated_at"

func scanUser(row interface{ Scan(...any) error }) (*User, error) {
	u := &User{}
	dest := []any{&u.UserID, &u.Email, &u.Role}
	dest = append(dest, limitDest(&u.Limits)...)
	dest = append(dest, &u.Spend, jsonCol{&u.Metadata}, timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt})
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	return u, nil
}

func (s *sqlStore) CreateUser(ctx context.Context, u *User) error {
	args := []any{u.UserID, u.Email, u.Role}
	args = append(args, s.limitArgs(&u.Limits)...)
	args = append(args, u.Spend, mapText(u.Metadata), s.t(u.CreatedAt), s.t(u.UpdatedAt))
	_, err := s.db.ExecContext(ctx, s.q("INSERT INTO users ("+userColumns+") VALUES ("+placeholders(len(args))+")"), args...)
	if isUniqueViolation(err) {
		return fmt.Errorf("user %s: %w", u.UserID, ErrConflict)
	}
	return err
}

func (s *sqlStore) GetUser(ctx context.Context, id string) (*User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, s.q("SELECT "+userColumns+" FROM users WHERE user_id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %s: %w", id, ErrNotFound)
	}
	return u, err
}

func (s *sqlStore) UpdateUser(ctx context.Context, u *User) error {
	args := []any{u.Email, u.Role}
	args = append(args, s.limitArgs(&u.Limits)...)
	args = append(args, mapText(u.Metadata), s.t(u.UpdatedAt), u.UserID)
	return s.change(ctx, func(tx *sql.Tx) ([]string, error) {
		res, err := tx.ExecContext(ctx, s.q("UPDATE users SET "+assignments(userUpdateColumns)+" WHERE user_id = ?"), args...)
		return []string{userChange(u.UserID)}, affectedOne(res, err, "user "+u.UserID)
	})
}

func (s *sqlStore) DeleteUser(ctx context.Context, id string) ([]string, error) {
	var tokens []string
	err := s.change(ctx, func(tx *sql.Tx) ([]string, error) {
		res, err := tx.ExecContext(ctx, s.q("DELETE FROM users WHERE user_id = ?"), id)
		if err := affectedOne(res, err, "user "+id); err != nil {
			return nil, err
		}
		if tokens, err = s.deleteKeysWhere(ctx, tx, "user_id", id); err != nil {
			return nil, err
		}
		return append(keyChanges(tokens), userChange(id)), nil
	})
	return tokens, err
}

func (s *sqlStore) ListUsers(ctx context.Context, f ListFilter) ([]*User, int, error) {
	var total int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+userColumns+" FROM users ORDER BY created_at, user_id"+pageClause(f.Page, f.Size))
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, u)
	}
	return out, total, rows.Err()
}
