package keys

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-gateway/strata/internal/auth"
	"github.com/strata-gateway/strata/internal/store"
)

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30s": 30 * time.Second, "15m": 15 * time.Minute, "1h": time.Hour, "30d": 30 * 24 * time.Hour, "1w": 7 * 24 * time.Hour,
	} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0d", "-1d", "5x", "d", "1.5h", "30 days"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
	jan31 := time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)
	if got := NextReset("1mo", jan31); !got.Equal(time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("NextReset(1mo) from Jan 31 = %v", got)
	}
	if got := NextReset("1d", jan31); !got.Equal(jan31.Add(24 * time.Hour)) {
		t.Errorf("NextReset(1d) = %v", got)
	}
}

func newService(t *testing.T) (*Service, store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	return New(Options{Store: st, Now: func() time.Time { return now }}), st
}

func wantField(t *testing.T, err error, status int, field string) {
	t.Helper()
	var ke *Error
	if !errors.As(err, &ke) || ke.Status != status || ke.Field != field || !strings.Contains(ke.Message, field) {
		t.Fatalf("error %v (%+v), want %d naming %q", err, ke, status, field)
	}
}

func TestGenerateStoresOnlyTheHash(t *testing.T) {
	s, st := newService(t)
	ctx := context.Background()
	g, err := s.GenerateKey(ctx, []byte(`{"models":["a"],"budget_duration":"30d","duration":"1h","model_max_budget":{"a":2.5,"b":{"budget_limit":1,"time_period":"1d"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	k, err := st.GetKey(ctx, auth.HashKey(g.Key))
	if err != nil {
		t.Fatal(err)
	}
	if k.Token == g.Key || strings.Contains(k.KeyName, g.Key[3:len(g.Key)-4]) {
		t.Fatalf("the store holds the key: %+v", k)
	}
	if k.BudgetResetAt == nil || !k.BudgetResetAt.Equal(time.Date(2026, 5, 31, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("budget_reset_at %v, want 30 days on", k.BudgetResetAt)
	}
	if k.Expires == nil || !k.Expires.Equal(time.Date(2026, 5, 1, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("expires %v, want an hour on", k.Expires)
	}
	if k.ModelMaxBudget["a"].BudgetLimit != 2.5 || k.ModelMaxBudget["b"].TimePeriod != "1d" {
		t.Errorf("model_max_budget %+v", k.ModelMaxBudget)
	}
	// null clears a limit; absent keeps it.
	v, err := s.UpdateKey(ctx, []byte(`{"key":"`+g.Key+`","duration":null,"rpm_limit":5}`))
	if err != nil {
		t.Fatal(err)
	}
	if v.Expires != nil || v.RPMLimit == nil || *v.RPMLimit != 5 || len(v.Models) != 1 {
		t.Errorf("after update: %+v", v)
	}
}

func TestKeysWithinTheirTeam(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	if _, err := s.NewTeam(ctx, []byte(`{"team_id":"t","models":["a","b*"],"max_budget":10,"tpm_limit":1000}`)); err != nil {
		t.Fatal(err)
	}
	_, err := s.GenerateKey(ctx, []byte(`{"team_id":"t","models":["c"]}`))
	wantField(t, err, http.StatusBadRequest, "models")
	_, err = s.GenerateKey(ctx, []byte(`{"team_id":"t","max_budget":10.5}`))
	wantField(t, err, http.StatusBadRequest, "max_budget")
	_, err = s.GenerateKey(ctx, []byte(`{"team_id":"t","tpm_limit":1001}`))
	wantField(t, err, http.StatusBadRequest, "tpm_limit")
	if _, err := s.GenerateKey(ctx, []byte(`{"team_id":"t","models":["a","b-2"],"max_budget":10}`)); err != nil {
		t.Fatalf("a key within its team: %v", err)
	}
	_, err = s.GenerateKey(ctx, []byte(`{"team_id":"nope"}`))
	wantField(t, err, http.StatusBadRequest, "team_id")
	_, err = s.UpdateKey(ctx, []byte(`{"key":"sk-not-there-1234"}`))
	wantField(t, err, http.StatusNotFound, "key")
}

func TestBadInputNamesTheField(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	for body, field := range map[string]string{
		`{"max_budget":-1}`:                       "max_budget",
		`{"soft_budget":"x"}`:                     "soft_budget",
		`{"max_parallel_requests":2.5}`:           "max_parallel_requests",
		`{"metadata":[1]}`:                        "metadata",
		`{"tags":[""]}`:                           "tags",
		`{"blocked":"yes"}`:                       "blocked",
		`{"key":"sk-short"}`:                      "key",
		`{"model_max_budget":{"a":{"x":1}}}`:      "model_max_budget.a",
		`{"budget_duration":"1y"}`:                "budget_duration",
		`{"allowed_cache_controls":["no-cache"]}`: "allowed_cache_controls",
	} {
		_, err := s.GenerateKey(ctx, []byte(body))
		wantField(t, err, http.StatusBadRequest, field)
	}
}

// A budget in months resets on the 1st at 00:00 UTC, as LiteLLM's does;
// a key's duration in months ends on the same day of a later month.
func TestBudgetResetInMonths(t *testing.T) {
	for _, tt := range []struct {
		d          string
		from, want time.Time
	}{
		{"1mo", time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)},
		{"1mo", time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"1mo", time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)},
		{"3mo", time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC), time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)},
		// March 31, 23:00 in New York is already April in UTC.
		{"1mo", time.Date(2026, 3, 31, 23, 0, 0, 0, time.FixedZone("EDT", -4*3600)), time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)},
		{"30d", time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC), time.Date(2026, 4, 13, 10, 0, 0, 0, time.UTC)},
	} {
		if got := BudgetReset(tt.d, tt.from); !got.Equal(tt.want) {
			t.Errorf("BudgetReset(%s, %v) = %v, want %v", tt.d, tt.from, got, tt.want)
		}
	}
	if Months("3mo") != 3 || Months("30d") != 0 || Months("mo") != 0 {
		t.Errorf("Months: 3mo %d, 30d %d, mo %d", Months("3mo"), Months("30d"), Months("mo"))
	}
}
