package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/strata-gateway/strata/internal/auth"
	"github.com/strata-gateway/strata/internal/config"
	"github.com/strata-gateway/strata/internal/keys"
	"github.com/strata-gateway/strata/internal/limits"
	"github.com/strata-gateway/strata/internal/metrics"
	"github.com/strata-gateway/strata/internal/server"
	"github.com/strata-gateway/strata/internal/spend"
	"github.com/strata-gateway/strata/internal/store"
)

// accounting is what the gateway keeps about requests: the limiter that
// admits them, and, with a database, the spend batcher that logs them and
// the loop that resets spend totals when their budget_duration ends.
type accounting struct {
	limiter *limits.Limiter
	batcher *spend.Batcher[spend.Row]
	stop    context.CancelFunc
	done    chan struct{}
}

// spendBatchSize is how many spend rows make a batch that is written at
// once, before proxy_batch_write_at: under load, one transaction per
// thousand rows rather than per hundred, since each commit writes its
// pages and the indexes' again.
const spendBatchSize = 1000

// newAccounting builds the accounting over st (nil: no database; budgets
// then count from this process's start), counting limits in counter (nil:
// in this process).
func newAccounting(st store.Store, global *limits.Scope, writeEvery time.Duration, m *metrics.Metrics, log *slog.Logger, counter limits.Counter) *accounting {
	a := &accounting{}
	var source limits.SpendSource
	if st != nil {
		source = spendSource(st)
		a.batcher = spend.NewBatcher(func(ctx context.Context, rows []spend.Row) error {
			logs := make([]store.SpendLog, len(rows))
			for i := range rows {
				logs[i] = spendLogOf(&rows[i])
			}
			_, err := st.InsertSpendLogs(ctx, logs)
			return err
		}, spend.BatcherOptions{BatchSize: spendBatchSize, Interval: writeEvery, Logger: log, Dropped: m.SpendDropped})
		ctx, cancel := context.WithCancel(context.Background())
		a.stop, a.done = cancel, make(chan struct{})
		go func() {
			defer close(a.done)
			resetBudgets(ctx, st, log, time.Minute)
		}()
	}
	// A shared counter counts the deployments' own limits too, so that they
	// hold across the gateways sharing it.
	a.limiter = limits.New(limits.Options{Spend: source, Global: global, Logger: log, Counter: counter, CountDeployments: counter != nil})
	return a
}

// spendLog is the server's SpendLog: the batcher's Add, or nil.
func (a *accounting) spendLog() func(spend.Row) {
	if a.batcher == nil {
		return nil
	}
	return a.batcher.Add
}

// Close writes the spend rows still buffered; it is called once every
// request has ended, before the database closes.
func (a *accounting) Close(ctx context.Context, log *slog.Logger) {
	if a.stop != nil {
		a.stop()
		<-a.done
	}
	if a.batcher == nil {
		return
	}
	if err := a.batcher.Close(ctx); err != nil {
		log.Error("spend logs lost at shutdown", "error", err.Error())
		return
	}
	log.Info("spend logs written")
}

// spendLogOf is a spend row as the store keeps it.
func spendLogOf(r *spend.Row) store.SpendLog {
	status := "success"
	if r.Status >= 400 {
		status = "failure"
	}
	return store.SpendLog{
		ID: r.ID, RequestID: r.RequestID,
		KeyHash: r.KeyHash, KeyAlias: r.KeyAlias, TeamID: r.TeamID, UserID: r.UserID, EndUser: r.EndUser,
		Model: r.Model, Deployment: r.Deployment, BedrockModel: r.ModelID,
		PromptTokens: int64(r.Usage.InputTokens), CompletionTokens: int64(r.Usage.OutputTokens),
		CacheReadTokens: int64(r.Usage.CacheReadTokens), CacheWriteTokens: int64(r.Usage.CacheWriteTokens),
		Cost: r.Cost, StartTime: r.Start, EndTime: r.End, Status: status, Prompt: r.Prompt,
	}
}

// spendSource reads a budget's spend since the start of its period from
// the spend logs.
func spendSource(st store.SpendLogs) limits.SpendSource {
	return func(ctx context.Context, ref limits.BudgetRef, since time.Time) (float64, error) {
		f := store.SpendFilter{Start: since}
		switch ref.Kind {
		case "key":
			f.KeyHash = ref.ID
		case "team":
			f.TeamID = ref.ID
		case "user":
			f.UserID = ref.ID
		case "global":
		default:
			return 0, nil
		}
		if ref.Model == "" {
			return st.TotalSpend(ctx, f)
		}
		rows, err := st.QuerySpendLogs(ctx, f)
		if err != nil {
			return 0, err
		}
		total := 0.0
		for _, r := range rows {
			if r.Model == ref.Model {
				total += r.Cost
			}
		}
		return total, nil
	}
}

// resetBudgets sets spend totals back to 0 when their budget_reset_at
// passes, and schedules the next reset, every interval until ctx ends.
// The limiter starts new periods on its own clock; this keeps the totals
// /key/info shows in step.
func resetBudgets(ctx context.Context, st store.Budgets, log *slog.Logger, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		now := time.Now()
		due, err := st.DueBudgetResets(ctx, now)
		if err != nil && ctx.Err() == nil {
			log.Warn("could not read the budgets due for a reset", "error", err.Error())
		}
		for _, ref := range due {
			var next *time.Time
			if _, err := keys.ParseDuration(ref.BudgetDuration); err == nil {
				n := ref.BudgetResetAt
				for !n.After(now) {
					n = keys.BudgetReset(ref.BudgetDuration, n)
				}
				next = &n
			}
			if err := st.ResetSpend(ctx, ref, next); err != nil && ctx.Err() == nil {
				log.Warn("could not reset a budget", "budget", ref.Entity.String(), "error", err.Error())
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// callers remembers each Principal's limits as the limiter reads them.
// The key cache hands out the same Principal until it reads the key again,
// so the conversion runs about once per key per cache period, not per
// request.
type callers struct {
	mu   sync.RWMutex
	seen map[*auth.Principal]server.Caller
}

// maxCallers bounds the memory: past it, the map starts over.
const maxCallers = 10_000

// of is the server's CallerOf.
func (cs *callers) of(ctx context.Context) server.Caller {
	p, ok := auth.FromContext(ctx)
	if !ok || p.Master || p.Key == nil {
		return server.Caller{}
	}
	cs.mu.RLock()
	c, ok := cs.seen[p]
	cs.mu.RUnlock()
	if ok {
		return c
	}
	c = callerOf(p)
	cs.mu.Lock()
	if cs.seen == nil || len(cs.seen) >= maxCallers {
		cs.seen = make(map[*auth.Principal]server.Caller)
	}
	cs.seen[p] = c
	cs.mu.Unlock()
	return c
}

// callerOf reads a key's Principal into the limits it counts against.
func callerOf(p *auth.Principal) server.Caller {
	k := p.Key
	c := server.Caller{KeyHash: k.Token, KeyAlias: k.Alias, TeamID: k.TeamID, UserID: k.UserID}
	c.Scopes = append(c.Scopes, scopeOf("key", k.Token, p.LogName(), k.Limits, k.CreatedAt, true))
	if p.Team != nil {
		c.Scopes = append(c.Scopes, scopeOf("team", p.Team.TeamID, teamName(p.Team), p.Team.Limits, p.Team.CreatedAt, true))
	}
	if p.User != nil {
		// A key in a team spends the team's budget, not its user's, as in
		// LiteLLM; the user's rate limits still apply.
		c.Scopes = append(c.Scopes, scopeOf("user", p.User.UserID, p.User.UserID, p.User.Limits, p.User.CreatedAt, p.Team == nil))
	}
	return c
}

func teamName(t *store.Team) string {
	if t.Alias != "" {
		return t.Alias
	}
	return t.TeamID
}

// scopeOf turns stored limits into a limiter scope. Budget periods run
// from the next reset the store scheduled, else from the creation time.
func scopeOf(kind, id, name string, l store.Limits, created time.Time, budgets bool) limits.Scope {
	s := limits.Scope{Kind: kind, ID: id, Name: name}
	if l.RPMLimit != nil {
		s.RPM = *l.RPMLimit
	}
	if l.TPMLimit != nil {
		s.TPM = *l.TPMLimit
	}
	if l.MaxParallelRequests != nil {
		s.MaxParallel = *l.MaxParallelRequests
	}
	if !budgets {
		return s
	}
	s.MaxBudget, s.SoftBudget = l.MaxBudget, l.SoftBudget
	if d, err := config.ParseDuration(l.BudgetDuration); err == nil {
		s.BudgetDuration = d
	}
	// Months are calendar months, reset on the 1st as the store's
	// budget_reset_at is: not 30 days.
	s.BudgetMonths = keys.Months(l.BudgetDuration)
	s.BudgetAnchor = created
	if l.BudgetResetAt != nil {
		s.BudgetAnchor = *l.BudgetResetAt
	}
	for model, mb := range l.ModelMaxBudget {
		if s.ModelMaxBudget == nil {
			s.ModelMaxBudget = make(map[string]limits.ModelBudget, len(l.ModelMaxBudget))
		}
		d, _ := config.ParseDuration(mb.TimePeriod)
		s.ModelMaxBudget[model] = limits.ModelBudget{MaxBudget: mb.BudgetLimit, Duration: d, Months: keys.Months(mb.TimePeriod)}
	}
	return s
}
