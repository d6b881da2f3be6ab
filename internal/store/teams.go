package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

const teamColumns = "team_id, team_alias, " + limitColumns + ", spend, metadata, blocked, created_at, updated_at"

const teamUpdateColumns = "team_alias, " + limitColumns + ", metadata, blocked, updated_at"

func scanTeam(row interface{ Scan(...any) error }) (*Team, error) {
	t := &Team{}
	dest := []any{&t.TeamID, &t.Alias}
	dest = append(dest, limitDest(&t.Limits)...)
	dest = append(dest, &t.Spend, jsonCol{&t.Metadata}, boolCol{&t.Blocked}, timeCol{&t.CreatedAt}, timeCol{&t.UpdatedAt})
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	return t, nil
}

func (s *sqlStore) CreateTeam(ctx context.Context, t *Team) error {
	args := []any{t.TeamID, t.Alias}
	args = append(args, s.limitArgs(&t.Limits)...)
	args = append(args, t.Spend, mapText(t.Metadata), t.Blocked, s.t(t.CreatedAt), s.t(t.UpdatedAt))
	_, err := s.db.ExecContext(ctx, s.q("INSERT INTO teams ("+teamColumns+") VALUES ("+placeholders(len(args))+")"), args...)
	if isUniqueViolation(err) {
		return fmt.Errorf("team %s: %w", t.TeamID, ErrConflict)
	}
	return err
}

func (s *sqlStore) GetTeam(ctx context.Context, id string) (*Team, error) {
	t, err := scanTeam(s.db.QueryRowContext(ctx, s.q("SELECT "+teamColumns+" FROM teams WHERE team_id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("team %s: %w", id, ErrNotFound)
	}
	return t, err
}

func (s *sqlStore) UpdateTeam(ctx context.Context, t *Team) error {
	args := []any{t.Alias}
	args = append(args, s.limitArgs(&t.Limits)...)
	args = append(args, mapText(t.Metadata), t.Blocked, s.t(t.UpdatedAt), t.TeamID)
	return s.change(ctx, func(tx *sql.Tx) ([]string, error) {
		res, err := tx.ExecContext(ctx, s.q("UPDATE teams SET "+assignments(teamUpdateColumns)+" WHERE team_id = ?"), args...)
		return []string{teamChange(t.TeamID)}, affectedOne(res, err, "team "+t.TeamID)
	})
}

func (s *sqlStore) DeleteTeam(ctx context.Context, id string) ([]string, error) {
	var tokens []string
	err := s.change(ctx, func(tx *sql.Tx) ([]string, error) {
		res, err := tx.ExecContext(ctx, s.q("DELETE FROM teams WHERE team_id = ?"), id)
		if err := affectedOne(res, err, "team "+id); err != nil {
			return nil, err
		}
		if tokens, err = s.deleteKeysWhere(ctx, tx, "team_id", id); err != nil {
			return nil, err
		}
		return append(keyChanges(tokens), teamChange(id)), nil
	})
	return tokens, err
}

func (s *sqlStore) ListTeams(ctx context.Context, f ListFilter) ([]*Team, int, error) {
	var total int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM teams").Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+teamColumns+" FROM teams ORDER BY created_at, team_id"+pageClause(f.Page, f.Size))
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []*Team
	for rows.Next() {
		t, err := scanTeam(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, t)
	}
	return out, total, rows.Err()
}
