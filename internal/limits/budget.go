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
	spent      float64
	shared     float64 // the spend every gateway counted, as last read from the shared counter
	seeded     bool    // spent includes what the spend logs hold
	softWarned bool
}

// periodOf is the budget period holding now: periods of length every
// follow one another from anchor (a key's creation time, say). every == 0
// is one period that never ends.
func periodOf(now, anchor time.Time, every time.Duration) (start, end time.Time) {
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

// current returns the spend of ref in the period holding now, starting a
// new period (and reading the spend logs) when the last one ended.
func (b *budgets) current(ctx context.Context, ref BudgetRef, anchor time.Time, every time.Duration, now time.Time) *period {
	start, end := periodOf(now, anchor, every)
	b.mu.Lock()
	p := b.spent[ref]
	if p == nil || !p.start.Equal(start) || !p.end.Equal(end) {
		p = &period{start: start, end: end}
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
		start, end := p.end, p.end.Add(p.end.Sub(p.start))
		for !now.Before(end) {
			start, end = end, end.Add(end.Sub(start))
		}
		p = &period{start: start, end: end}
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
