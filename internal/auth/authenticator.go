package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/strata-gateway/strata/internal/store"
)

// Options configures an Authenticator.
type Options struct {
	MasterKey string
	// Store is where virtual keys, teams and users are read; nil accepts
	// the master key only.
	Store interface {
		store.Keys
		store.Teams
		store.Users
	}
	// CacheTTL is how long a key read from the store is trusted before it is
	// read again; 0 means DefaultCacheTTL. Changes made through this
	// process invalidate at once; other instances' changes do when a
	// message carries them (Redis, PostgreSQL's notifications), else show
	// within it.
	CacheTTL time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
}

// DefaultCacheTTL bounds how stale another instance's key change may be.
const DefaultCacheTTL = 60 * time.Second

// Authenticator checks requests' keys.
type Authenticator struct {
	master atomic.Pointer[[sha256.Size]byte]
	store  interface {
		store.Keys
		store.Teams
		store.Users
	}
	ttl time.Duration
	log *slog.Logger
	now func() time.Time

	mu    sync.RWMutex
	cache map[string]*cached // by token
	// unknown remembers tokens the store does not have, for a while, so
	// that requests with made-up keys do not each cost a database read.
	unknown map[string]time.Time
	// refreshing marks tokens whose stale entry is being read again.
	refreshing map[string]bool
	// gen counts invalidations, so a read that started before one does not
	// put what it read back into the cache.
	gen     uint64
	loading singleflight.Group
}

type cached struct {
	p       *Principal
	fetched time.Time
}

// New returns an Authenticator for opts; MasterKey must not be empty.
func New(opts Options) *Authenticator {
	a := &Authenticator{
		store: opts.Store,
		ttl:   opts.CacheTTL,
		log:   opts.Logger,
		now:   opts.Now,
		cache: map[string]*cached{},

		unknown:    map[string]time.Time{},
		refreshing: map[string]bool{},
	}
	a.SetMasterKey(opts.MasterKey)
	if a.ttl <= 0 {
		a.ttl = DefaultCacheTTL
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a
}

var masterPrincipal = &Principal{Master: true}

// SetMasterKey replaces the master key, for the requests checked from now
// on; the old one stops working at once. key must not be empty.
func (a *Authenticator) SetMasterKey(key string) {
	sum := sha256.Sum256([]byte(key))
	a.master.Store(&sum)
}

// KeyFromRequest reads the key a request carries, from the headers
// LiteLLM reads: Authorization: Bearer, x-api-key, api-key, x-litellm-api-key.
func KeyFromRequest(r *http.Request) string {
	if v := r.Header.Get("Authorization"); v != "" {
		scheme, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(rest)
		}
		if !ok && strings.HasPrefix(v, "sk-") {
			return v
		}
	}
	for _, h := range []string{"x-litellm-api-key", "x-api-key", "api-key"} {
		if v := strings.TrimSpace(r.Header.Get(h)); v != "" {
			return v
		}
	}
	return ""
}

// Authenticate returns the Principal for key, or an *Error.
func (a *Authenticator) Authenticate(ctx context.Context, key string) (*Principal, error) {
	if key == "" {
		return nil, &Error{Reason: ReasonMissing, Message: "no API key: send it as 'Authorization: Bearer <key>' (or in x-api-key, api-key or x-litellm-api-key)"}
	}
	// One hash serves both: the master key is compared by its hash (in
	// constant time), and a virtual key's token is the hex of the same hash.
	sum := sha256.Sum256([]byte(key))
	if subtle.ConstantTimeCompare(sum[:], a.master.Load()[:]) == 1 {
		return masterPrincipal, nil
	}
	if a.store == nil {
		return nil, &Error{Reason: ReasonUnknown, Message: "invalid API key"}
	}
	token := hex.EncodeToString(sum[:])
	p, err := a.principal(ctx, token)
	if err != nil {
		return nil, err
	}
	now := a.now()
	switch {
	case p.Key.Blocked:
		return nil, &Error{Reason: ReasonBlocked, Message: "key '" + p.LogName() + "' is blocked"}
	case p.Team != nil && p.Team.Blocked:
		return nil, &Error{Reason: ReasonBlocked, Message: "key '" + p.LogName() + "' belongs to team '" + p.Team.TeamID + "', which is blocked"}
	case p.Key.Expires != nil && !now.Before(*p.Key.Expires):
		return nil, &Error{Reason: ReasonExpired, Message: "key '" + p.LogName() + "' expired at " + p.Key.Expires.UTC().Format(time.RFC3339)}
	}
	return p, nil
}

// IsMaster compares key with the master key in constant time.
func (a *Authenticator) IsMaster(key string) bool {
	sum := sha256.Sum256([]byte(key))
	return subtle.ConstantTimeCompare(sum[:], a.master.Load()[:]) == 1
}

// principal returns the cached Principal for token. A missing entry is
// read from the store while the request waits; a stale one is served as it
// is and read again in the background, so neither a slow nor an
// unreachable database holds up requests whose keys were seen before.
func (a *Authenticator) principal(ctx context.Context, token string) (*Principal, error) {
	now := a.now()
	a.mu.RLock()
	c := a.cache[token]
	unknownUntil, unknown := a.unknown[token]
	a.mu.RUnlock()
	if c != nil {
		if now.Sub(c.fetched) >= a.ttl {
			a.refresh(token, c)
		}
		return c.p, nil
	}
	if unknown && now.Before(unknownUntil) {
		return nil, &Error{Reason: ReasonUnknown, Message: "invalid API key"}
	}
	v, err, _ := a.loading.Do(token, func() (any, error) {
		return a.load(context.WithoutCancel(ctx), token)
	})
	if err == nil {
		return v.(*Principal), nil
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, &Error{Reason: ReasonUnknown, Message: "invalid API key"}
	}
	return nil, &Error{Reason: ReasonUnavailable, Message: "the gateway cannot check API keys right now (its database is unreachable); try again", Err: err}
}

// refreshRetry is how long a stale entry is served before its key is read
// again after a failed read.
const refreshRetry = 5 * time.Second

// refresh reads a stale entry's key again in the background, once at a time.
func (a *Authenticator) refresh(token string, stale *cached) {
	a.mu.Lock()
	if a.refreshing[token] {
		a.mu.Unlock()
		return
	}
	a.refreshing[token] = true
	a.mu.Unlock()
	go func() {
		_, err := a.load(context.Background(), token)
		a.mu.Lock()
		delete(a.refreshing, token)
		if err != nil && !errors.Is(err, store.ErrNotFound) && a.cache[token] == stale {
			// Keep serving it; try again in a while, not on every request.
			a.cache[token] = &cached{p: stale.p, fetched: a.now().Add(refreshRetry - a.ttl)}
		}
		a.mu.Unlock()
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			a.log.Warn("key store unreachable: using the cached key", "key", stale.p.LogName(), "error", err.Error())
		}
	}()
}

// maxUnknown bounds the memory of unknown tokens; past it, it starts over.
const maxUnknown = 100_000

// load reads a key with its team and user and caches the result.
func (a *Authenticator) load(ctx context.Context, token string) (*Principal, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	a.mu.RLock()
	gen := a.gen
	a.mu.RUnlock()
	fetched := a.now()
	k, err := a.store.GetKey(ctx, token)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			a.mu.Lock()
			if a.gen == gen {
				delete(a.cache, token)
				if len(a.unknown) >= maxUnknown {
					clear(a.unknown)
				}
				a.unknown[token] = a.now().Add(min(a.ttl, unknownTTL))
			}
			a.mu.Unlock()
		}
		return nil, err
	}
	p := &Principal{Key: k}
	if k.TeamID != "" {
		t, err := a.store.GetTeam(ctx, k.TeamID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// The team is gone; the key keeps its own limits.
		case err != nil:
			return nil, fmt.Errorf("read team of key %s: %w", ShortHash(token), err)
		default:
			p.Team = t
		}
	}
	if k.UserID != "" {
		u, err := a.store.GetUser(ctx, k.UserID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("read user of key %s: %w", ShortHash(token), err)
		default:
			p.User = u
		}
	}
	a.mu.Lock()
	if a.gen == gen {
		a.cache[token] = &cached{p: p, fetched: fetched}
	}
	a.mu.Unlock()
	return p, nil
}

// unknownTTL bounds how long a key another instance has just created may
// be refused here because it was tried before it existed.
const unknownTTL = 10 * time.Second

// InvalidateKey drops a key from the cache: its next request reads it again.
func (a *Authenticator) InvalidateKey(token string) {
	a.mu.Lock()
	delete(a.cache, token)
	delete(a.unknown, token)
	a.gen++
	a.mu.Unlock()
}

// InvalidateAll empties the cache: every key is read again on its next
// request.
func (a *Authenticator) InvalidateAll() {
	a.mu.Lock()
	clear(a.cache)
	clear(a.unknown)
	a.gen++
	a.mu.Unlock()
}

// InvalidateTeam drops every cached key of a team.
func (a *Authenticator) InvalidateTeam(teamID string) {
	a.invalidateWhere(func(p *Principal) bool { return p.Key.TeamID == teamID })
}

// InvalidateUser drops every cached key of a user.
func (a *Authenticator) InvalidateUser(userID string) {
	a.invalidateWhere(func(p *Principal) bool { return p.Key.UserID == userID })
}

func (a *Authenticator) invalidateWhere(match func(*Principal) bool) {
	a.mu.Lock()
	for token, c := range a.cache {
		if match(c.p) {
			delete(a.cache, token)
		}
	}
	a.gen++
	a.mu.Unlock()
}
