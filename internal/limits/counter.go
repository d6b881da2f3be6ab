package limits

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// Counter keeps the counts limits are checked against: a number per key
// within a fixed window of time. A request's counts are checked and taken
// in one call, and given back in one call when it ends, so that a shared
// backend (Redis) costs one round trip each way; the in-memory one serves
// a single gateway.
type Counter interface {
	// Take applies every step, or none: if a step would pass its limit,
	// nothing is counted and Taken.Refused is that step's index. It also
	// reads the shared spend of the budgets named, where the backend
	// keeps them.
	Take(ctx context.Context, steps []Step, spend []SpendKey, now time.Time) (Taken, error)
	// Settle adds each step's N (negative gives back) and each cost to
	// the spend of its budget, without checking limits.
	Settle(ctx context.Context, steps []Step, spend []SpendAdd, now time.Time) error
}

// Step is one count a request takes: N (1 for rpm and parallel, 0 to only
// check tpm) in the window of length Window holding now; a window of 0
// never ends: it counts what is in flight. With N > 0 the count may reach
// Limit; with N == 0 it must be below it. Limit <= 0 is no limit.
type Step struct {
	Key    Key
	Window time.Duration
	N      int64
	Limit  int64
}

// Taken is what Take did.
type Taken struct {
	Refused int     // index of the step refused; -1 when all were taken
	Counts  []int64 // each step's count after it was taken; on a refusal, as found, up to the refused step
	// Spent is the shared spend of each SpendKey asked for; negative when
	// the backend does not know it.
	Spent []float64

	by Counter // the counter that took the counts, which must settle them
}

// Key names a counter: what it counts ("rpm", "tpm", "parallel") for which
// scope. A shared backend renders it as a string with String.
type Key struct {
	Limit, Kind, ID string
}

func (k Key) String() string { return k.Limit + ":" + k.Kind + ":" + k.ID }

// SpendKey names a budget's spend in one period. Seed is what this
// gateway knows was spent (from the spend logs and its own requests): a
// shared backend starts the period's spend from it when it has none.
type SpendKey struct {
	Ref        BudgetRef
	Start, End time.Time // End is zero for a budget that never resets
	Seed       float64
}

func (k SpendKey) String() string {
	return "spend:" + k.Ref.Kind + ":" + k.Ref.ID + ":" + k.Ref.Model + ":" + strconv.FormatInt(k.Start.Unix(), 10)
}

// SpendAdd is a cost to add to a budget's spend.
type SpendAdd struct {
	Key  SpendKey
	Cost float64
}

// windowStart is the start of the fixed window of length window holding
// now; windows are aligned to the Unix epoch, so every gateway sharing a
// backend agrees on them.
func windowStart(now time.Time, window time.Duration) time.Time {
	if window <= 0 {
		return time.Time{}
	}
	return time.Unix(0, now.UnixNano()/int64(window)*int64(window))
}

// Memory is a Counter held in this process. It keeps no spend: the
// limiter's own budgets are this process's view.
type Memory struct {
	mu        sync.Mutex
	counts    map[memoryKey]int64
	lastSweep time.Time
}

type memoryKey struct {
	key   Key
	start int64 // window start, UnixNano; 0 for windows that never end
	end   int64
}

// NewMemory returns an empty in-memory counter.
func NewMemory() *Memory { return &Memory{counts: map[memoryKey]int64{}} }

func (m *Memory) keyOf(key Key, window time.Duration, now time.Time) memoryKey {
	if window <= 0 {
		return memoryKey{key: key}
	}
	start := windowStart(now, window).UnixNano()
	return memoryKey{key: key, start: start, end: start + int64(window)}
}

// Take implements Counter.
func (m *Memory) Take(_ context.Context, steps []Step, spend []SpendKey, now time.Time) (Taken, error) {
	t := Taken{Refused: -1, Counts: make([]int64, len(steps))}
	if len(spend) > 0 {
		t.Spent = make([]float64, len(spend))
		for i := range t.Spent {
			t.Spent[i] = -1
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now)
	for i, s := range steps {
		v := m.counts[m.keyOf(s.Key, s.Window, now)]
		t.Counts[i] = v
		if refused(v, s) {
			t.Refused = i
			return t, nil
		}
	}
	for i, s := range steps {
		k := m.keyOf(s.Key, s.Window, now)
		m.counts[k] += s.N
		t.Counts[i] = m.counts[k]
	}
	return t, nil
}

// refused says whether taking s from a count of v passes its limit.
func refused(v int64, s Step) bool {
	if s.Limit <= 0 {
		return false
	}
	if s.N == 0 {
		return v >= s.Limit
	}
	return v+s.N > s.Limit
}

// Settle implements Counter.
func (m *Memory) Settle(_ context.Context, steps []Step, _ []SpendAdd, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now)
	for _, s := range steps {
		k := m.keyOf(s.Key, s.Window, now)
		// An in-flight count back at 0 is kept for its next request; sweep drops it.
		m.counts[k] = max(m.counts[k]+s.N, 0)
	}
	return nil
}

// Get returns key's count in the window of that length holding now.
func (m *Memory) Get(key Key, window time.Duration, now time.Time) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[m.keyOf(key, window, now)]
}

// sweep drops the counts of windows that have ended, and in-flight counts
// back at 0, at most once a second.
func (m *Memory) sweep(now time.Time) {
	if now.Sub(m.lastSweep) < time.Second {
		return
	}
	m.lastSweep = now
	t := now.UnixNano()
	for k, v := range m.counts {
		if k.end != 0 && k.end <= t || k.end == 0 && v == 0 {
			delete(m.counts, k)
		}
	}
}
