package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/strata-gateway/strata/internal/config"
	"github.com/strata-gateway/strata/internal/limits"
)

const budgetConfig = `
model_list:
  - model_name: bedrock-claude
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
litellm_settings:
  max_budget: 1
  budget_duration: `

// The gateway budget (litellm_settings.max_budget with budget_duration)
// has the periods a key's budget has: "1mo" is a calendar month, from the
// 1st at 00:00 UTC to the next 1st, not 30 days. The limiter reads the
// spend logs from the start of the period and reports its end.
func TestGatewayBudgetPeriods(t *testing.T) {
	t.Parallel()
	utc := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, time.UTC) }
	for _, tt := range []struct {
		duration   string
		now        time.Time
		start, end time.Time
	}{
		{"1mo", utc(2026, 1, 31, 15, 4), utc(2026, 1, 1, 0, 0), utc(2026, 2, 1, 0, 0)},
		{"1mo", utc(2026, 2, 1, 0, 0), utc(2026, 2, 1, 0, 0), utc(2026, 3, 1, 0, 0)},
		{"1mo", utc(2026, 2, 28, 23, 59), utc(2026, 2, 1, 0, 0), utc(2026, 3, 1, 0, 0)},
		{"1mo", utc(2028, 2, 29, 12, 0), utc(2028, 2, 1, 0, 0), utc(2028, 3, 1, 0, 0)},
		{"1mo", utc(2026, 12, 31, 23, 59), utc(2026, 12, 1, 0, 0), utc(2027, 1, 1, 0, 0)},
		// 20:00 on January 31 in New York is already February in UTC.
		{"1mo", time.Date(2026, 1, 31, 20, 0, 0, 0, time.FixedZone("EST", -5*3600)), utc(2026, 2, 1, 0, 0), utc(2026, 3, 1, 0, 0)},
		// Quarters counted from January 1970: January, April, July, October.
		{"3mo", utc(2026, 1, 31, 15, 4), utc(2026, 1, 1, 0, 0), utc(2026, 4, 1, 0, 0)},
		{"3mo", utc(2026, 5, 31, 0, 0), utc(2026, 4, 1, 0, 0), utc(2026, 7, 1, 0, 0)},
		// Other units keep fixed lengths from the epoch.
		{"30d", utc(2026, 1, 31, 15, 4), utc(2026, 1, 7, 0, 0), utc(2026, 2, 6, 0, 0)},
		{"1d", utc(2026, 1, 31, 15, 4), utc(2026, 1, 31, 0, 0), utc(2026, 2, 1, 0, 0)},
	} {
		cfg, err := config.Parse([]byte(budgetConfig+tt.duration+"\n"), "config.yaml", nil)
		if err != nil {
			t.Fatal(err)
		}
		var since time.Time
		l := limits.New(limits.Options{
			Now: func() time.Time { return tt.now },
			Spend: func(_ context.Context, ref limits.BudgetRef, from time.Time) (float64, error) {
				since = from
				return 10, nil // over the budget
			},
			Global: gatewayBudget(cfg.Settings),
		})
		_, err = l.Admit(context.Background(), nil, "bedrock-claude")
		var exceeded *limits.BudgetExceeded
		if !errors.As(err, &exceeded) {
			t.Fatalf("%s at %v: %v, want the gateway budget exceeded", tt.duration, tt.now, err)
		}
		if !since.Equal(tt.start) || !exceeded.ResetAt.Equal(tt.end) {
			t.Errorf("%s at %v: period %v to %v, want %v to %v", tt.duration, tt.now, since, exceeded.ResetAt, tt.start, tt.end)
		}
	}
}

// A request that ends after the 1st counts in the new calendar month, not
// in a 30-day period.
func TestGatewayBudgetSpendMovesToTheNextMonth(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC)
	cfg, err := config.Parse([]byte(budgetConfig+"1mo\n"), "config.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	l := limits.New(limits.Options{
		Now: func() time.Time { return now },
		Spend: func(context.Context, limits.BudgetRef, time.Time) (float64, error) {
			return 0, nil
		},
		Global: gatewayBudget(cfg.Settings),
	})
	lease, err := l.Admit(context.Background(), nil, "bedrock-claude")
	if err != nil {
		t.Fatal(err)
	}
	now = time.Date(2026, 2, 1, 0, 30, 0, 0, time.UTC)
	lease.End(context.Background(), 100, 5)
	_, err = l.Admit(context.Background(), nil, "bedrock-claude")
	var exceeded *limits.BudgetExceeded
	if !errors.As(err, &exceeded) {
		t.Fatalf("after $5 spent on February 1: %v, want the budget exceeded", err)
	}
	if want := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC); !exceeded.ResetAt.Equal(want) {
		t.Errorf("budget resets at %v, want %v", exceeded.ResetAt, want)
	}
}
