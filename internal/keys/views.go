package keys

import (
	"time"

	"github.com/strata-gateway/strata/internal/store"
)

// The JSON the admin routes answer with, under LiteLLM's field names.

// KeyView is a key as /key/info and /key/list show it: never the key itself.
type KeyView struct {
	Token               string                       `json:"token"`
	KeyName             string                       `json:"key_name"`
	KeyAlias            *string                      `json:"key_alias"`
	Spend               float64                      `json:"spend"`
	MaxBudget           *float64                     `json:"max_budget"`
	SoftBudget          *float64                     `json:"soft_budget"`
	BudgetDuration      *string                      `json:"budget_duration"`
	BudgetResetAt       *time.Time                   `json:"budget_reset_at"`
	Expires             *time.Time                   `json:"expires"`
	Models              []string                     `json:"models"`
	UserID              *string                      `json:"user_id"`
	TeamID              *string                      `json:"team_id"`
	RPMLimit            *int64                       `json:"rpm_limit"`
	TPMLimit            *int64                       `json:"tpm_limit"`
	MaxParallelRequests *int64                       `json:"max_parallel_requests"`
	ModelMaxBudget      map[string]store.ModelBudget `json:"model_max_budget"`
	Metadata            map[string]any               `json:"metadata"`
	Tags                []string                     `json:"tags"`
	Blocked             bool                         `json:"blocked"`
	CreatedAt           time.Time                    `json:"created_at"`
	UpdatedAt           time.Time                    `json:"updated_at"`
}

// GeneratedKey is the answer of /key/generate and /key/regenerate: the
// only time the plain key is shown.
type GeneratedKey struct {
	Key string `json:"key"`
	KeyView
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func list(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func obj[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}

func viewKey(k *store.Key) KeyView {
	return KeyView{
		Token: k.Token, KeyName: k.KeyName, KeyAlias: optString(k.Alias), Spend: k.Spend,
		MaxBudget: k.MaxBudget, SoftBudget: k.SoftBudget, BudgetDuration: optString(k.BudgetDuration), BudgetResetAt: k.BudgetResetAt,
		Expires: k.Expires, Models: list(k.Models), UserID: optString(k.UserID), TeamID: optString(k.TeamID),
		RPMLimit: k.RPMLimit, TPMLimit: k.TPMLimit, MaxParallelRequests: k.MaxParallelRequests,
		ModelMaxBudget: obj(k.ModelMaxBudget), Metadata: obj(k.Metadata), Tags: list(k.Tags), Blocked: k.Blocked,
		CreatedAt: k.CreatedAt, UpdatedAt: k.UpdatedAt,
	}
}

// TeamView is a team as the /team routes show it.
type TeamView struct {
	TeamID              string                       `json:"team_id"`
	TeamAlias           *string                      `json:"team_alias"`
	Spend               float64                      `json:"spend"`
	MaxBudget           *float64                     `json:"max_budget"`
	SoftBudget          *float64                     `json:"soft_budget"`
	BudgetDuration      *string                      `json:"budget_duration"`
	BudgetResetAt       *time.Time                   `json:"budget_reset_at"`
	Models              []string                     `json:"models"`
	RPMLimit            *int64                       `json:"rpm_limit"`
	TPMLimit            *int64                       `json:"tpm_limit"`
	MaxParallelRequests *int64                       `json:"max_parallel_requests"`
	ModelMaxBudget      map[string]store.ModelBudget `json:"model_max_budget"`
	Metadata            map[string]any               `json:"metadata"`
	Blocked             bool                         `json:"blocked"`
	CreatedAt           time.Time                    `json:"created_at"`
	UpdatedAt           time.Time                    `json:"updated_at"`
}

func viewTeam(t *store.Team) TeamView {
	return TeamView{
		TeamID: t.TeamID, TeamAlias: optString(t.Alias), Spend: t.Spend, MaxBudget: t.MaxBudget, SoftBudget: t.SoftBudget,
		BudgetDuration: optString(t.BudgetDuration), BudgetResetAt: t.BudgetResetAt, Models: list(t.Models),
		RPMLimit: t.RPMLimit, TPMLimit: t.TPMLimit, MaxParallelRequests: t.MaxParallelRequests,
		ModelMaxBudget: obj(t.ModelMaxBudget), Metadata: obj(t.Metadata), Blocked: t.Blocked,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
	}
}

// UserView is a user as the /user routes show it.
type UserView struct {
	UserID              string                       `json:"user_id"`
	UserEmail           *string                      `json:"user_email"`
	UserRole            *string                      `json:"user_role"`
	Spend               float64                      `json:"spend"`
	MaxBudget           *float64                     `json:"max_budget"`
	SoftBudget          *float64                     `json:"soft_budget"`
	BudgetDuration      *string                      `json:"budget_duration"`
	BudgetResetAt       *time.Time                   `json:"budget_reset_at"`
	Models              []string                     `json:"models"`
	RPMLimit            *int64                       `json:"rpm_limit"`
	TPMLimit            *int64                       `json:"tpm_limit"`
	MaxParallelRequests *int64                       `json:"max_parallel_requests"`
	ModelMaxBudget      map[string]store.ModelBudget `json:"model_max_budget"`
	Metadata            map[string]any               `json:"metadata"`
	CreatedAt           time.Time                    `json:"created_at"`
	UpdatedAt           time.Time                    `json:"updated_at"`
}

func viewUser(u *store.User) UserView {
	return UserView{
		UserID: u.UserID, UserEmail: optString(u.Email), UserRole: optString(u.Role), Spend: u.Spend,
		MaxBudget: u.MaxBudget, SoftBudget: u.SoftBudget, BudgetDuration: optString(u.BudgetDuration), BudgetResetAt: u.BudgetResetAt,
		Models: list(u.Models), RPMLimit: u.RPMLimit, TPMLimit: u.TPMLimit, MaxParallelRequests: u.MaxParallelRequests,
		ModelMaxBudget: obj(u.ModelMaxBudget), Metadata: obj(u.Metadata), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
}
