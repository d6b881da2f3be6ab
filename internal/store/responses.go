package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

func (s *sqlStore) PutResponse(ctx context.Context, r *Response) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO responses (id, owner, previous_response_id, response, input, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`), r.ID, r.Owner, r.PreviousResponseID, string(r.Body), string(r.Input), s.t(r.CreatedAt))
	if isUniqueViolation(err) {
		return fmt.Errorf("response %s: %w", r.ID, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("store response %s: %w", r.ID, err)
	}
	return nil
}

func (s *sqlStore) GetResponse(ctx context.Context, owner, id string) (*Response, error) {
	r := &Response{}
	var body, input string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, owner, previous_response_id, response, input, created_at
		FROM responses WHERE id = ? AND owner = ?`), id, owner).
		Scan(&r.ID, &r.Owner, &r.PreviousResponseID, &body, &input, timeCol{&r.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("response %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read response %s: %w", id, err)
	}
	r.Body, r.Input = []byte(body), []byte(input)
	return r, nil
}

func (s *sqlStore) DeleteResponse(ctx context.Context, owner, id string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM responses WHERE id = ? AND owner = ?`), id, owner)
	if err != nil {
		return fmt.Errorf("delete response %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("response %s: %w", id, ErrNotFound)
	}
	return nil
}

func (s *sqlStore) DeleteResponsesBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM responses WHERE created_at < ?`), s.t(t))
	if err != nil {
		return 0, fmt.Errorf("delete responses before %s: %w", t.Format(time.RFC3339), err)
	}
	return res.RowsAffected()
}
