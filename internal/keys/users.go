package keys

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"

	"github.com/strata-gateway/strata/internal/auth"
	"github.com/strata-gateway/strata/internal/store"
)

var userFields = append([]string{"user_id", "user_email", "user_role"}, limitFields...)

// userRoles are LiteLLM's roles; Strata stores the role and acts on none
// of them (only the master key administers).
var userRoles = set("proxy_admin", "proxy_admin_viewer", "internal_user", "internal_user_viewer", "team", "customer")

func (s *Service) applyUserFields(f fields, u *store.User) error {
	var err error
	if f.has("user_email") {
		if u.Email, err = f.str("user_email"); err != nil {
			return err
		}
	}
	if f.has("user_role") {
		if u.Role, err = f.str("user_role"); err != nil {
			return err
		}
		if u.Role != "" && !userRoles[u.Role] {
			return badField("user_role", "%q is not one of proxy_admin, proxy_admin_viewer, internal_user, internal_user_viewer, team, customer", u.Role)
		}
	}
	if f.has("metadata") {
		if u.Metadata, err = f.object("metadata"); err != nil {
			return err
		}
	}
	return f.limits(&u.Limits, s.now().UTC())
}

// NewUserResult is /user/new's answer: the user and, unless
// auto_create_key is false, a key for them (shown only here).
type NewUserResult struct {
	UserView
	Key   *string `json:"key"`
	Token *string `json:"token"`
}

// NewUser serves POST /user/new.
func (s *Service) NewUser(ctx context.Context, body []byte) (*NewUserResult, error) {
	f, err := parseFields(body, set(append([]string{"auto_create_key", "key_alias"}, userFields...)...))
	if err != nil {
		return nil, err
	}
	id, err := f.str("user_id")
	if err != nil {
		return nil, err
	}
	if id == "" {
		id = strings.ToLower(rand.Text())
	}
	autoKey := true
	if f.has("auto_create_key") && !f.isNull("auto_create_key") {
		if autoKey, err = f.boolean("auto_create_key"); err != nil {
			return nil, err
		}
	}
	alias, err := f.str("key_alias")
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	u := &store.User{UserID: id, CreatedAt: now, UpdatedAt: now}
	if err := s.applyUserFields(f, u); err != nil {
		return nil, err
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return nil, storeErr(err, "user_id", "user "+id)
	}
	s.log.Info("user created", "user_id", id)
	res := &NewUserResult{UserView: viewUser(u)}
	if autoKey {
		plain := NewKey()
		k := &store.Key{Token: auth.HashKey(plain), KeyName: keyName(plain), Alias: alias, UserID: id, CreatedAt: now, UpdatedAt: now}
		if err := s.createKey(ctx, k); err != nil {
			return nil, err
		}
		res.Key, res.Token = &plain, &k.Token
	}
	return res, nil
}

func (s *Service) lookupUser(ctx context.Context, id string) (*store.User, error) {
	if id == "" {
		return nil, badField("user_id", "is required")
	}
	u, err := s.store.GetUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("user_id", "user %q not found", id)
	}
	return u, err
}

// UpdateUser serves POST /user/update.
func (s *Service) UpdateUser(ctx context.Context, body []byte) (*UserView, error) {
	f, err := parseFields(body, set(userFields...))
	if err != nil {
		return nil, err
	}
	id, err := f.str("user_id")
	if err != nil {
		return nil, err
	}
	u, err := s.lookupUser(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.applyUserFields(f, u); err != nil {
		return nil, err
	}
	u.UpdatedAt = s.now().UTC()
	if err := s.store.UpdateUser(ctx, u); err != nil {
		return nil, storeErr(err, "user_id", "user "+id)
	}
	s.cache.InvalidateUser(id)
	s.log.Info("user updated", "user_id", id)
	v := viewUser(u)
	return &v, nil
}

// UserInfo serves GET /user/info?user_id=...
func (s *Service) UserInfo(ctx context.Context, id string) (map[string]any, error) {
	u, err := s.lookupUser(ctx, id)
	if err != nil {
		return nil, err
	}
	ks, _, err := s.store.ListKeys(ctx, store.KeyFilter{UserID: id})
	if err != nil {
		return nil, err
	}
	views := make([]KeyView, 0, len(ks))
	teams := []string{}
	seen := map[string]bool{}
	for _, k := range ks {
		views = append(views, viewKey(k))
		if k.TeamID != "" && !seen[k.TeamID] {
			seen[k.TeamID] = true
			teams = append(teams, k.TeamID)
		}
	}
	return map[string]any{"user_id": id, "user_info": viewUser(u), "keys": views, "teams": teams}, nil
}

// DeleteUsers serves POST /user/delete {"user_ids": [...]}: the users and their keys.
func (s *Service) DeleteUsers(ctx context.Context, body []byte) (map[string]any, error) {
	f, err := parseFields(body, set("user_ids"))
	if err != nil {
		return nil, err
	}
	ids, err := f.strList("user_ids")
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, badField("user_ids", "is required: a list of user ids")
	}
	for _, id := range ids {
		if _, err := s.lookupUser(ctx, id); err != nil {
			return nil, err
		}
	}
	deletedKeys := 0
	for _, id := range ids {
		tokens, err := s.store.DeleteUser(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		for _, t := range tokens {
			s.cache.InvalidateKey(t)
		}
		s.cache.InvalidateUser(id)
		deletedKeys += len(tokens)
		s.log.Info("user deleted", "user_id", id, "keys_deleted", len(tokens))
	}
	return map[string]any{"deleted_users": ids, "deleted_keys": deletedKeys}, nil
}

// ListUsers serves GET /user/list?page=&page_size=.
func (s *Service) ListUsers(ctx context.Context, q Query) (map[string]any, error) {
	page, size, err := pageOf(q, "page_size", 25)
	if err != nil {
		return nil, err
	}
	us, total, err := s.store.ListUsers(ctx, store.ListFilter{Page: page, Size: size})
	if err != nil {
		return nil, err
	}
	out := make([]UserView, 0, len(us))
	for _, u := range us {
		out = append(out, viewUser(u))
	}
	return map[string]any{"users": out, "total": total, "page": page, "page_size": size, "total_pages": pages(total, size)}, nil
}
