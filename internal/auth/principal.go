// Package auth turns the key a request carries into a Principal: the master
// key, or a virtual key with its team's and user's settings, read through a
// cache so that steady-state requests never wait on the database. The
// Principal rides in the request's context. It decides who is calling and
// which models they may name; budgets and rate limits are decided elsewhere.
package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/strata-gateway/strata/internal/store"
)

// Principal is who a request acts as. Its Key, Team and User are shared
// with the key cache: read them, never change them.
type Principal struct {
	Master bool       // the master key: every model, every admin route
	Key    *store.Key // the virtual key; nil for the master key
	Team   *store.Team
	User   *store.User
}

// KeyHash is the key's token (the SHA-256 hex of the key); "" for the master key.
func (p *Principal) KeyHash() string {
	if p == nil || p.Key == nil {
		return ""
	}
	return p.Key.Token
}

// KeyAlias is the key's alias; "" when it has none or for the master key.
func (p *Principal) KeyAlias() string {
	if p == nil || p.Key == nil {
		return ""
	}
	return p.Key.Alias
}

// TeamID is the key's team; "".
func (p *Principal) TeamID() string {
	if p == nil || p.Key == nil {
		return ""
	}
	return p.Key.TeamID
}

// UserID is the key's user; "".
func (p *Principal) UserID() string {
	if p == nil || p.Key == nil {
		return ""
	}
	return p.Key.UserID
}

// LogName names the caller in logs and errors without revealing the key:
// its alias, else the first characters of its hash.
func (p *Principal) LogName() string {
	switch {
	case p == nil:
		return ""
	case p.Master:
		return "master key"
	case p.Key.Alias != "":
		return p.Key.Alias
	}
	return ShortHash(p.Key.Token)
}

// ShortHash is a key hash cut to what logs may show.
func ShortHash(token string) string {
	if len(token) > 12 {
		return token[:12]
	}
	return token
}

type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the request's Principal; false when the gateway runs
// without a master key (no authentication).
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// HashKey is a key's token as stored: the SHA-256 hex of the key, as
// LiteLLM computes it.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// TokenOf accepts either a plain key ("sk-...") or its token and returns
// the token, as LiteLLM's admin routes do.
func TokenOf(keyOrToken string) string {
	if strings.HasPrefix(keyOrToken, "sk-") || !isHex64(keyOrToken) {
		return HashKey(keyOrToken)
	}
	return keyOrToken
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// AllowsModel reports whether models (a key's, team's or user's list)
// allows model. An empty list, "*" or LiteLLM's "all-proxy-models" allow
// every model; "prefix*" allows names with that prefix.
func AllowsModel(models []string, model string) bool {
	if len(models) == 0 {
		return true
	}
	for _, m := range models {
		switch {
		case m == model, m == "*", m == "all-proxy-models":
			return true
		case strings.HasSuffix(m, "*") && strings.HasPrefix(model, m[:len(m)-1]):
			return true
		}
	}
	return false
}

// keyModels is the key's own list, where "all-team-models" defers to the team.
func keyModels(k *store.Key) []string {
	for _, m := range k.Models {
		if m == "all-team-models" {
			return nil
		}
	}
	return k.Models
}

// CheckModel returns nil when p may call model, else an *Error naming the
// model and the key. A nil p (no authentication) may call anything.
func (p *Principal) CheckModel(model string) error {
	if p == nil || p.Master {
		return nil
	}
	if !AllowsModel(keyModels(p.Key), model) {
		return &Error{Reason: ReasonKeyModel, Model: model, Key: p.LogName(),
			Message: "key '" + p.LogName() + "' is not allowed to call model '" + model + "'; allowed models: " + strings.Join(p.Key.Models, ", ")}
	}
	if p.Team != nil && !AllowsModel(p.Team.Models, model) {
		return &Error{Reason: ReasonTeamModel, Model: model, Key: p.LogName(),
			Message: "key '" + p.LogName() + "' belongs to team '" + p.Team.TeamID + "', which is not allowed to call model '" + model + "'; the team's models: " + strings.Join(p.Team.Models, ", ")}
	}
	if p.User != nil && !AllowsModel(p.User.Models, model) {
		return &Error{Reason: ReasonUserModel, Model: model, Key: p.LogName(),
			Message: "key '" + p.LogName() + "' belongs to user '" + p.User.UserID + "', who is not allowed to call model '" + model + "'; the user's models: " + strings.Join(p.User.Models, ", ")}
	}
	return nil
}

// CheckModel checks the request's Principal, if any, against model.
func CheckModel(ctx context.Context, model string) error {
	p, _ := FromContext(ctx)
	return p.CheckModel(model)
}

// ModelVisible is CheckModel as a yes/no, for listing models.
func ModelVisible(ctx context.Context, model string) bool {
	return CheckModel(ctx, model) == nil
}
