package app

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-gateway/strata/internal/auth"
	"github.com/strata-gateway/strata/internal/limits"
	"github.com/strata-gateway/strata/internal/server"
	"github.com/strata-gateway/strata/internal/spend"
	"github.com/strata-gateway/strata/internal/store"
)

func ptr[T any](v T) *T { return &v }

// BenchmarkKeyCheckAndAccounting is what a model request adds to the
// gateway's work when keys are on: the cached key check, reading the
// caller's limits, admission against the key's, team's, user's and the
// gateway's limits and budgets, pricing the answer, ending the lease and
// queueing the spend row.
func BenchmarkKeyCheckAndAccounting(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	limitsOf := func() store.Limits {
		return store.Limits{MaxBudget: ptr(1e9), BudgetDuration: "30d", RPMLimit: ptr(int64(1 << 40)),
			TPMLimit: ptr(int64(1 << 50)), MaxParallelRequests: ptr(int64(1 << 20))}
	}
	if err := st.CreateTeam(ctx, &store.Team{TeamID: "team-a", Limits: limitsOf()}); err != nil {
		b.Fatal(err)
	}
	if err := st.CreateUser(ctx, &store.User{UserID: "user-a", Limits: limitsOf()}); err != nil {
		b.Fatal(err)
	}
	const key = "sk-bench-0123456789"
	if err := st.CreateKey(ctx, &store.Key{Token: auth.HashKey(key), Alias: "bench", TeamID: "team-a", UserID: "user-a", Limits: limitsOf()}); err != nil {
		b.Fatal(err)
	}
	authn := auth.New(auth.Options{MasterKey: "sk-master", Store: st})
	gateway := &limits.Scope{Kind: "global", ID: "litellm-proxy-budget", MaxBudget: ptr(1e12), BudgetDuration: 30 * 24 * time.Hour}
	limiter := limits.New(limits.Options{Spend: spendSource(st), Global: gateway})
	batcher := spend.NewBatcher(func(context.Context, []spend.Row) error { return nil }, spend.BatcherOptions{MaxPending: 1 << 20})
	defer batcher.Close(ctx)
	price, _ := spend.Lookup("anthropic.claude-3-5-sonnet-20240620-v1:0")
	usage := spend.Usage{InputTokens: 120, OutputTokens: 40}

	cs := &callers{}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p, err := authn.Authenticate(ctx, key)
		if err != nil {
			b.Fatal(err)
		}
		rctx := auth.NewContext(ctx, p)
		if err := p.CheckModel("bedrock-claude"); err != nil {
			b.Fatal(err)
		}
		c := cs.of(rctx)
		lease, err := limiter.Admit(rctx, c.Scopes, "bedrock-claude")
		if err != nil {
			b.Fatal(err)
		}
		cost := price.Cost(usage)
		lease.End(rctx, int64(usage.InputTokens+usage.OutputTokens), cost)
		batcher.Add(spend.Row{RequestID: "r", KeyHash: c.KeyHash, KeyAlias: c.KeyAlias, TeamID: c.TeamID, UserID: c.UserID,
			Model: "bedrock-claude", Usage: usage, Cost: cost, Status: 200})
	}
}

var _ = server.Caller{}
