package limits

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// BudgetRef names one budget: an entity's own (Model empty) or its budget
// for one model (model_max_budget).
type BudgetRef struct {
	Kind  string // "key", "team", "user", "end_user" or "global"
	ID    string
	Model string
}

// SpendSource reads what an entity has spent since a time, from the spend
// logs; the budgets start from it when they first see an entity in a budget
// period, so spend survives restarts. It is called once per entity and
// period, never per request.
type SpendSource func(ctx context.Context, ref BudgetRef, since time.Time) (float64, error)

// budgets tracks spend per budget and period in memory.
type budgets struct {
	source SpendSource
	log    *slog.Logger

	mu    sync.Mutex
	spent map[BudgetRef]*period
}

// period is a budget's current period and what was spent in it.
type period struct {
	start, end time.Time // end is zero for a budget that never resets
	months     int       // periods are calendar months: the next one is this many months on
	spent      float64
	shared     float64 // the spend every gateway counted, as last read from the shared counter
	seeded     bool    // spent includes what the spend logs hold
	softWarned bool
}

// periodOf is the budget period holding now: periods of length every
// follow one another from anchor (a key's creation time, say). every == 0
// is one period that never ends. With months > 0, periods are that many
// calendar months instead, each starting on the 1st at 00:00 UTC, as
// LiteLLM resets a budget_duration in months, counted from anchor's month.
func periodOf(now, anchor time.Time, every time.Duration, months int) (start, end time.Time) {
	if months > 0 {
		return monthPeriod(now, anchor, months)
	}
	if every <= 0 {
		return time.Time{}, time.Time{}
	}
	if anchor.IsZero() {
		start = windowStart(now, every)
		return start, start.Add(every)
	}
	n := now.Sub(anchor) / every
	if now.Before(anchor) {
		// An anchor ahead of now (the next reset): count periods back from it.
		n = -((anchor.Sub(now) + every - 1) / every)
		if !anchor.Add(n * every).Add(every).After(now) {
			n++
		}
	}
	start = anchor.Add(n * every)
	return start, start.Add(every)
}

// monthPeriod is the period of n calendar months (UTC) holding now, the
// periods counted from anchor's month (from January 1970 without one).
func monthPeriod(now, anchor time.Time, n int) (start, end time.Time) {
	monthIndex := func(t time.Time) int { t = t.UTC(); return t.Year()*12 + int(t.Month()) - 1 }
	i, a := monthIndex(now), 1970*12
	if !anchor.IsZero() {
		a = monthIndex(anchor)
	}
	k := i - ((i-a)%n+n)%n
	start = time.Date(k/12, time.Month(k%12+1), 1, 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, n, 0)
}

// current returns the spend of ref in the period holding now, starting a
// new period (and reading the spend logs) when the last one ended.
func (b *budgets) current(ctx context.Context, ref BudgetRef, anchor time.Time, every time.Duration, months int, now time.Time) *period {
	start, end := periodOf(now, anchor, every, months)
	b.mu.Lock()
	p := b.spent[ref]
	if p == nil || !p.start.Equal(start) || !p.end.Equal(end) {
		p = &period{start: start, end: end, months: months}
		b.spent[ref] = p
	}
	seeded := p.seeded
	b.mu.Unlock()
	if !seeded {
		b.seed(ctx, ref, p)
	}
	return p
}

// seed adds what the spend logs hold for ref's period. If they cannot be
// read (the database is down), the budget counts from what this gateway
// saw and tries again on the next request.
func (b *budgets) seed(ctx context.Context, ref BudgetRef, p *period) {
	if b.source == nil {
		b.mu.Lock()
		p.seeded = true
		b.mu.Unlock()
		return
	}
	logged, err := b.source(ctx, ref, p.start)
	b.mu.Lock()
	defer b.mu.Unlock()
	if p.seeded {
		return
	}
	if err != nil {
		b.log.Warn("could not read spend for a budget; counting from this gateway's own until the database answers",
			"budget", ref.Kind, "model", ref.Model, "error", err.Error())
		return
	}
	// What this gateway counted meanwhile may be in the logs already (the
	// spend batcher flushed it) or not yet: the larger of the two is the
	// closest to the truth without counting a request twice.
	p.spent = max(p.spent, logged)
	p.seeded = true
}

// add records cost against ref in the period holding now.
func (b *budgets) add(ref BudgetRef, cost float64, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.spent[ref]
	if p == nil {
		return // never admitted through a budget: nothing to track
	}
	if !p.end.IsZero() && !now.Before(p.end) {
		// The request ended in a new period: it counts there.
		length, months := p.end.Sub(p.start), p.months
		next := func(t time.Time) time.Time {
			if months > 0 {
				return t.AddDate(0, months, 0)
			}
			return t.Add(length)
		}
		start, end := p.end, next(p.end)
		for !now.Before(end) {
			start, end = end, next(end)
		}
		p = &period{start: start, end: end, months: months}
		b.spent[ref] = p
	}
	p.spent += cost
}

// spentIn is the spend of p: this gateway's count (seeded from the spend
// logs), or what all gateways counted, whichever is larger.
func (b *budgets) spentIn(p *period) float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(p.spent, p.shared)
}

// share records the shared spend of p and returns p's spend.
func (b *budgets) share(p *period, shared float64) float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	p.shared = shared
	return max(p.spent, p.shared)
}
