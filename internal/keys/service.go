// Package keys is the key, team and user management behind the admin
// routes: it generates and hashes keys, checks what admins ask for (a key
// inside a team stays within the team's models and limits) and keeps the
// key cache in step with the store. It does not authenticate requests.
package keys

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/strata-gateway/strata/internal/auth"
	"github.com/strata-gateway/strata/internal/store"
)

// Invalidator is the key cache: told about every change made here.
type Invalidator interface {
	InvalidateKey(token string)
	InvalidateTeam(teamID string)
	InvalidateUser(userID string)
}

// Options configures a Service.
type Options struct {
	Store  store.Store
	Cache  Invalidator // nil when there is no cache
	Logger *slog.Logger
	Now    func() time.Time
}

// Service carries out the admin routes' requests.
type Service struct {
	store store.Store
	cache Invalidator
	log   *slog.Logger
	now   func() time.Time
}

// New returns a Service over opts.Store.
func New(opts Options) *Service {
	s := &Service{store: opts.Store, cache: opts.Cache, log: opts.Logger, now: opts.Now}
	if s.cache == nil {
		s.cache = noCache{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

type noCache struct{}

func (noCache) InvalidateKey(string)  {}
func (noCache) InvalidateTeam(string) {}
func (noCache) InvalidateUser(string) {}

// Store is the store the service works on (for the spend routes).
func (s *Service) Store() store.Store { return s.store }

// storeErr turns store errors into admin refusals; others pass through.
func storeErr(err error, field, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return notFound(field, "%s not found", what)
	case errors.Is(err, store.ErrConflict):
		return badField(field, "%s already exists", what)
	}
	return err
}

// NewKey makes a key: "sk-" and 26 characters of base32 (128 random bits).
func NewKey() string { return "sk-" + rand.Text() }

// keyName is the abbreviation of a key that may be shown: "sk-...wxyz".
func keyName(key string) string {
	if len(key) <= 8 {
		return "sk-..."
	}
	return "sk-..." + key[len(key)-4:]
}

// plainKey is the key the request chose under field, checked, or a new one.
func plainKey(f fields, field string) (string, error) {
	key, err := f.str(field)
	if err != nil || key == "" {
		return NewKey(), err
	}
	if !strings.HasPrefix(key, "sk-") {
		return "", badField(field, "a chosen key must start with \"sk-\"")
	}
	if len(key) < 12 {
		return "", badField(field, "a chosen key must be at least 12 characters long")
	}
	return key, nil
}

var keyRequestFields = append([]string{"key_alias", "team_id", "user_id", "duration", "tags", "blocked"}, limitFields...)

var generateFields = set(append([]string{"key"}, keyRequestFields...)...)

var updateFields = set(append([]string{"key"}, keyRequestFields...)...)

// applyKeyFields sets k from the request's key fields present in f.
func (s *Service) applyKeyFields(ctx context.Context, f fields, k *store.Key, now time.Time) error {
	var err error
	if f.has("key_alias") {
		if k.Alias, err = f.str("key_alias"); err != nil {
			return err
		}
	}
	if f.has("team_id") {
		if k.TeamID, err = f.str("team_id"); err != nil {
			return err
		}
	}
	if f.has("user_id") {
		if k.UserID, err = f.str("user_id"); err != nil {
			return err
		}
	}
	if f.has("duration") {
		d, err := f.duration("duration")
		if err != nil {
			return err
		}
		k.Expires = nil
		if d != "" {
			exp := NextReset(d, now)
			k.Expires = &exp
		}
	}
	if f.has("tags") {
		if k.Tags, err = f.strList("tags"); err != nil {
			return err
		}
	}
	if f.has("blocked") {
		if k.Blocked, err = f.boolean("blocked"); err != nil {
			return err
		}
	}
	if f.has("metadata") {
		if k.Metadata, err = f.object("metadata"); err != nil {
			return err
		}
	}
	if err := f.limits(&k.Limits, now); err != nil {
		return err
	}
	return s.checkOwners(ctx, k, now)
}

// checkOwners checks the key's team exists and bounds it, and creates
// the key's user if it is new, as LiteLLM does.
func (s *Service) checkOwners(ctx context.Context, k *store.Key, now time.Time) error {
	if k.TeamID != "" {
		t, err := s.store.GetTeam(ctx, k.TeamID)
		if errors.Is(err, store.ErrNotFound) {
			return badField("team_id", "team %q does not exist; create it with /team/new", k.TeamID)
		}
		if err != nil {
			return err
		}
		if err := withinTeam(k, t); err != nil {
			return err
		}
	}
	if k.UserID != "" {
		_, err := s.store.GetUser(ctx, k.UserID)
		if errors.Is(err, store.ErrNotFound) {
			err = s.store.CreateUser(ctx, &store.User{UserID: k.UserID, CreatedAt: now, UpdatedAt: now})
			if errors.Is(err, store.ErrConflict) {
				err = nil
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// withinTeam refuses a key that would allow more than its team.
func withinTeam(k *store.Key, t *store.Team) error {
	if len(t.Models) > 0 {
		if len(k.Models) == 0 {
			k.Models = nil // the team's models apply
		}
		for _, m := range k.Models {
			if m == "all-team-models" {
				continue
			}
			if !auth.AllowsModel(t.Models, m) {
				return badField("models", "model %q is not among team %q's models (%s)", m, t.TeamID, strings.Join(t.Models, ", "))
			}
		}
	}
	if t.MaxBudget != nil && k.MaxBudget != nil && *k.MaxBudget > *t.MaxBudget {
		return badField("max_budget", "%v is more than team %q's max_budget of %v", *k.MaxBudget, t.TeamID, *t.MaxBudget)
	}
	for _, c := range []struct {
		name      string
		key, team *int64
	}{{"rpm_limit", k.RPMLimit, t.RPMLimit}, {"tpm_limit", k.TPMLimit, t.TPMLimit}, {"max_parallel_requests", k.MaxParallelRequests, t.MaxParallelRequests}} {
		if c.team != nil && c.key != nil && *c.key > *c.team {
			return badField(c.name, "%d is more than team %q's %s of %d", *c.key, t.TeamID, c.name, *c.team)
		}
	}
	return nil
}

// GenerateKey serves POST /key/generate.
func (s *Service) GenerateKey(ctx context.Context, body []byte) (*GeneratedKey, error) {
	f, err := parseFields(body, generateFields)
	if err != nil {
		return nil, err
	}
	plain, err := plainKey(f, "key")
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	k := &store.Key{Token: auth.HashKey(plain), KeyName: keyName(plain), CreatedAt: now, UpdatedAt: now}
	if err := s.applyKeyFields(ctx, f, k, now); err != nil {
		return nil, err
	}
	if err := s.createKey(ctx, k); err != nil {
		return nil, err
	}
	s.cache.InvalidateKey(k.Token)
	s.log.Info("key generated", "key", logName(k), "team_id", k.TeamID, "user_id", k.UserID)
	return &GeneratedKey{Key: plain, KeyView: viewKey(k)}, nil
}

func (s *Service) createKey(ctx context.Context, k *store.Key) error {
	err := s.store.CreateKey(ctx, k)
	if errors.Is(err, store.ErrConflict) {
		if k.Alias != "" {
			if existing, _, lerr := s.store.ListKeys(ctx, store.KeyFilter{Alias: k.Alias}); lerr == nil && len(existing) > 0 {
				return badField("key_alias", "%q is already the alias of another key", k.Alias)
			}
		}
		return badField("key", "this key already exists")
	}
	return err
}

func logName(k *store.Key) string {
	if k.Alias != "" {
		return k.Alias
	}
	return auth.ShortHash(k.Token)
}

// lookupKey finds the key a request names by its plain value or token.
func (s *Service) lookupKey(ctx context.Context, field, keyOrToken string) (*store.Key, error) {
	if keyOrToken == "" {
		return nil, badField(field, "is required: the key (sk-...) or its token")
	}
	k, err := s.store.GetKey(ctx, auth.TokenOf(keyOrToken))
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound(field, "key not found")
	}
	return k, err
}

// UpdateKey serves POST /key/update.
func (s *Service) UpdateKey(ctx context.Context, body []byte) (*KeyView, error) {
	f, err := parseFields(body, updateFields)
	if err != nil {
		return nil, err
	}
	ref, err := f.str("key")
	if err != nil {
		return nil, err
	}
	k, err := s.lookupKey(ctx, "key", ref)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	if err := s.applyKeyFields(ctx, f, k, now); err != nil {
		return nil, err
	}
	k.UpdatedAt = now
	if err := s.store.UpdateKey(ctx, k); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, badField("key_alias", "%q is already the alias of another key", k.Alias)
		}
		return nil, storeErr(err, "key", "key")
	}
	s.cache.InvalidateKey(k.Token)
	s.log.Info("key updated", "key", logName(k))
	v := viewKey(k)
	return &v, nil
}

// SetBlocked serves POST /key/block and /key/unblock.
func (s *Service) SetBlocked(ctx context.Context, body []byte, blocked bool) (*KeyView, error) {
	f, err := parseFields(body, set("key"))
	if err != nil {
		return nil, err
	}
	ref, err := f.str("key")
	if err != nil {
		return nil, err
	}
	k, err := s.lookupKey(ctx, "key", ref)
	if err != nil {
		return nil, err
	}
	k.Blocked = blocked
	k.UpdatedAt = s.now().UTC()
	if err := s.store.UpdateKey(ctx, k); err != nil {
		return nil, storeErr(err, "key", "key")
	}
	s.cache.InvalidateKey(k.Token)
	s.log.Info("key blocked", "key", logName(k), "blocked", blocked)
	v := viewKey(k)
	return &v, nil
}

// DeleteKeys serves POST /key/delete: {"keys": [...]} and/or {"key_aliases": [...]}.
func (s *Service) DeleteKeys(ctx context.Context, body []byte) (map[string]any, error) {
	f, err := parseFields(body, set("keys", "key_aliases"))
	if err != nil {
		return nil, err
	}
	refs, err := f.strList("keys")
	if err != nil {
		return nil, err
	}
	aliases, err := f.strList("key_aliases")
	if err != nil {
		return nil, err
	}
	if len(refs) == 0 && len(aliases) == 0 {
		return nil, badField("keys", "is required: a list of keys (sk-...) or tokens, or give key_aliases")
	}
	var tokens []string
	for _, ref := range refs {
		k, err := s.lookupKey(ctx, "keys", ref)
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, k.Token)
	}
	for _, a := range aliases {
		found, _, err := s.store.ListKeys(ctx, store.KeyFilter{Alias: a})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, notFound("key_aliases", "no key has the alias %q", a)
		}
		tokens = append(tokens, found[0].Token)
	}
	for _, t := range tokens {
		if err := s.store.DeleteKey(ctx, t); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		s.cache.InvalidateKey(t)
		s.log.Info("key deleted", "key", auth.ShortHash(t))
	}
	deleted := append(refs, aliases...)
	return map[string]any{"deleted_keys": deleted}, nil
}

// KeyInfo serves GET /key/info?key=...
func (s *Service) KeyInfo(ctx context.Context, ref string) (map[string]any, error) {
	k, err := s.lookupKey(ctx, "key", ref)
	if err != nil {
		return nil, err
	}
	return map[string]any{"key": k.Token, "info": viewKey(k)}, nil
}

// ListKeys serves GET /key/list.
func (s *Service) ListKeys(ctx context.Context, q Query) (map[string]any, error) {
	page, size, err := pageOf(q, "size", 10)
	if err != nil {
		return nil, err
	}
	full, err := boolParam(q, "return_full_object")
	if err != nil {
		return nil, err
	}
	ks, total, err := s.store.ListKeys(ctx, store.KeyFilter{TeamID: q.Get("team_id"), UserID: q.Get("user_id"), Alias: q.Get("key_alias"), Page: page, Size: size})
	if err != nil {
		return nil, err
	}
	var out []any
	for _, k := range ks {
		if full {
			out = append(out, viewKey(k))
		} else {
			out = append(out, k.Token)
		}
	}
	if out == nil {
		out = []any{}
	}
	return map[string]any{"keys": out, "total_count": total, "current_page": page, "total_pages": pages(total, size)}, nil
}

func pages(total, size int) int {
	return int(math.Ceil(float64(total) / float64(size)))
}

// RegenerateKey serves POST /key/regenerate and /key/{key}/regenerate:
// a new key (or new_key, if chosen) replaces the old one, which stops
// working at once; spend and settings carry over, with any given changes.
func (s *Service) RegenerateKey(ctx context.Context, pathKey string, body []byte) (*GeneratedKey, error) {
	f, err := parseFields(body, set(append([]string{"key", "new_key"}, keyRequestFields...)...))
	if err != nil {
		return nil, err
	}
	ref := pathKey
	if ref == "" {
		if ref, err = f.str("key"); err != nil {
			return nil, err
		}
	}
	k, err := s.lookupKey(ctx, "key", ref)
	if err != nil {
		return nil, err
	}
	plain, err := plainKey(f, "new_key")
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	old := k.Token
	if err := s.applyKeyFields(ctx, f, k, now); err != nil {
		return nil, err
	}
	k.Token, k.KeyName, k.UpdatedAt = auth.HashKey(plain), keyName(plain), now
	if err := s.store.RegenerateKey(ctx, old, k); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, badField("new_key", "this key already exists")
		}
		return nil, storeErr(err, "key", "key")
	}
	s.cache.InvalidateKey(old)
	s.cache.InvalidateKey(k.Token)
	s.log.Info("key regenerated", "key", logName(k), "old", auth.ShortHash(old))
	return &GeneratedKey{Key: plain, KeyView: viewKey(k)}, nil
}

// Query is a request's query string.
type Query interface{ Get(string) string }

func pageOf(q Query, sizeName string, defaultSize int) (int, int, error) {
	page, size := 1, defaultSize
	if v := q.Get("page"); v != "" {
		if _, err := fmt.Sscanf(v, "%d", &page); err != nil || page < 1 {
			return 0, 0, badField("page", "must be a whole number >= 1")
		}
	}
	if v := q.Get(sizeName); v != "" {
		if _, err := fmt.Sscanf(v, "%d", &size); err != nil || size < 1 || size > 1000 {
			return 0, 0, badField(sizeName, "must be a whole number from 1 to 1000")
		}
	}
	return page, size, nil
}

func boolParam(q Query, name string) (bool, error) {
	switch strings.ToLower(q.Get(name)) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, badField(name, "must be true or false")
}
