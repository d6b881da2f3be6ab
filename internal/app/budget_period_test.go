package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/strata-gateway/strata/internal/keys"
	"github.com/strata-gateway/strata/internal/limits"
	"github.com/strata-gateway/strata/internal/store"
)

// A budget in months is refused until the same moment the store resets
// it: the 1st of the next month at 00:00 UTC, as LiteLLM resets it, not
// 30 days on. Both sides are checked over a year of periods, through a
// February and from the 31st.
func TestMonthlyBudgetPeriodsMatchTheStoreResets(t *testing.T) {
	created := time.Date(2026, 1, 31, 15, 4, 5, 0, time.UTC)
	for _, d := range []string{"1mo", "3mo"} {
		resetAt := keys.BudgetReset(d, created) // what /key/generate stores
		now := created.Add(time.Hour)
		for range 12 {
			// The reset loop moves budget_reset_at past now.
			for !resetAt.After(now) {
				resetAt = keys.BudgetReset(d, resetAt)
			}
			if resetAt.Day() != 1 || resetAt.Hour() != 0 || resetAt.Location() != time.UTC {
				t.Fatalf("%s: budget_reset_at %v, want the 1st of a month at 00:00 UTC", d, resetAt)
			}
			l := limits.New(limits.Options{
				Now: func() time.Time { return now },
				Spend: func(context.Context, limits.BudgetRef, time.Time) (float64, error) {
					return 10, nil // over the budget in every period
				},
			})
			s := scopeOf("key", "token", "alias", store.Limits{MaxBudget: ptr(1.0), BudgetDuration: d, BudgetResetAt: &resetAt}, created, true)
			_, err := l.Admit(context.Background(), []limits.Scope{s}, "bedrock-claude")
			var exceeded *limits.BudgetExceeded
			if !errors.As(err, &exceeded) {
				t.Fatalf("%s at %v: %v, want the budget exceeded", d, now, err)
			}
			if !exceeded.ResetAt.Equal(resetAt) {
				t.Errorf("%s at %v: the limiter's period ends %v, the store resets at %v", d, now, exceeded.ResetAt, resetAt)
			}
			now = now.AddDate(0, 0, 29)
		}
	}
}
