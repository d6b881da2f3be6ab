package keys

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"

	"github.com/strata-gateway/strata/internal/store"
)

var teamFields = set(append([]string{"team_id", "team_alias", "blocked"}, limitFields...)...)

func (s *Service) applyTeamFields(f fields, t *store.Team) error {
	var err error
	if f.has("team_alias") {
		if t.Alias, err = f.str("team_alias"); err != nil {
			return err
		}
	}
	if f.has("blocked") {
		if t.Blocked, err = f.boolean("blocked"); err != nil {
			return err
		}
	}
	if f.has("metadata") {
		if t.Metadata, err = f.object("metadata"); err != nil {
			return err
		}
	}
	return f.limits(&t.Limits, s.now().UTC())
}

// NewTeam serves POST /team/new.
func (s *Service) NewTeam(ctx context.Context, body []byte) (*TeamView, error) {
	f, err := parseFields(body, teamFields)
	if err != nil {
		return nil, err
	}
	id, err := f.str("team_id")
	if err != nil {
		return nil, err
	}
	if id == "" {
		id = strings.ToLower(rand.Text())
	}
	now := s.now().UTC()
	t := &store.Team{TeamID: id, CreatedAt: now, UpdatedAt: now}
	if err := s.applyTeamFields(f, t); err != nil {
		return nil, err
	}
	if err := s.store.CreateTeam(ctx, t); err != nil {
		return nil, storeErr(err, "team_id", "team "+id)
	}
	s.log.Info("team created", "team_id", id)
	v := viewTeam(t)
	return &v, nil
}

func (s *Service) lookupTeam(ctx context.Context, id string) (*store.Team, error) {
	if id == "" {
		return nil, badField("team_id", "is required")
	}
	t, err := s.store.GetTeam(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("team_id", "team %q not found", id)
	}
	return t, err
}

// UpdateTeam serves POST /team/update.
func (s *Service) UpdateTeam(ctx context.Context, body []byte) (map[string]any, error) {
	f, err := parseFields(body, teamFields)
	if err != nil {
		return nil, err
	}
	id, err := f.str("team_id")
	if err != nil {
		return nil, err
	}
	t, err := s.lookupTeam(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.applyTeamFields(f, t); err != nil {
		return nil, err
	}
	t.UpdatedAt = s.now().UTC()
	if err := s.store.UpdateTeam(ctx, t); err != nil {
		return nil, storeErr(err, "team_id", "team "+id)
	}
	s.cache.InvalidateTeam(id)
	s.log.Info("team updated", "team_id", id)
	return map[string]any{"team_id": id, "data": viewTeam(t)}, nil
}

// TeamInfo serves GET /team/info?team_id=...
func (s *Service) TeamInfo(ctx context.Context, id string) (map[string]any, error) {
	t, err := s.lookupTeam(ctx, id)
	if err != nil {
		return nil, err
	}
	ks, _, err := s.store.ListKeys(ctx, store.KeyFilter{TeamID: id})
	if err != nil {
		return nil, err
	}
	views := make([]KeyView, 0, len(ks))
	for _, k := range ks {
		views = append(views, viewKey(k))
	}
	return map[string]any{"team_id": id, "team_info": viewTeam(t), "keys": views}, nil
}

// DeleteTeams serves POST /team/delete {"team_ids": [...]}: the teams and their keys.
func (s *Service) DeleteTeams(ctx context.Context, body []byte) (map[string]any, error) {
	f, err := parseFields(body, set("team_ids"))
	if err != nil {
		return nil, err
	}
	ids, err := f.strList("team_ids")
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, badField("team_ids", "is required: a list of team ids")
	}
	for _, id := range ids {
		if _, err := s.lookupTeam(ctx, id); err != nil {
			return nil, err
		}
	}
	deletedKeys := 0
	for _, id := range ids {
		tokens, err := s.store.DeleteTeam(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		for _, t := range tokens {
			s.cache.InvalidateKey(t)
		}
		s.cache.InvalidateTeam(id)
		deletedKeys += len(tokens)
		s.log.Info("team deleted", "team_id", id, "keys_deleted", len(tokens))
	}
	return map[string]any{"deleted_teams": ids, "deleted_keys": deletedKeys}, nil
}

// ListTeams serves GET /team/list: every team, as LiteLLM answers, a JSON list.
func (s *Service) ListTeams(ctx context.Context) ([]TeamView, error) {
	ts, _, err := s.store.ListTeams(ctx, store.ListFilter{})
	if err != nil {
		return nil, err
	}
	out := make([]TeamView, 0, len(ts))
	for _, t := range ts {
		out = append(out, viewTeam(t))
	}
	return out, nil
}
