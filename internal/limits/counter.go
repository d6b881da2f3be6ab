package limits

import (
	"context"
	"sync"
	"time"
)

// Counter keeps the counts limits are checked against: a number per key
// within a fixed window of time. It is the one thing a shared backend
// (Redis) has to provide; the in-memory one serves a single gateway.
type Counter interface {
	// Add adds n (which may be negative) to key's count in the window of the
	// given length that contains now, and returns the new count. A window of
	// 0 never ends: it counts what is in flight.
	Add(ctx context.Context, key Key, n int64, window time.Duration, now time.Time) (int64, error)
	// Get returns key's count in that window.
	Get(ctx context.Context, key Key, window time.Duration, now time.Time) (int64, error)
}

// Key names a counter: what it counts ("rpm", "tpm", "parallel") for which
// scope. A shared backend renders it as a string with String.
type Key struct {
	Limit, Kind, ID string
}

func (k Key) String() string { return k.Limit + ":" + k.Kind + ":" + k.ID }

// windowStart is the start of the fixed window of length window holding
// now; windows are aligned to the Unix epoch, so every gateway sharing a
// backend agrees on them.
func windowStart(now time.Time, window time.Duration) time.Time {
	if window <= 0 {
		return time.Time{}
	}
	return time.Unix(0, now.UnixNano()/int64(window)*int64(window))
}

// Memory is a Counter held in this process.
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

// Add implements Counter.
func (m *Memory) Add(_ context.Context, key Key, n int64, window time.Duration, now time.Time) (int64, error) {
	k := m.keyOf(key, window, now)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now)
	v := m.counts[k] + n
	m.counts[k] = v // an in-flight count back at 0 is kept for its next request; sweep drops it
	return v, nil
}

// Get implements Counter.
func (m *Memory) Get(_ context.Context, key Key, window time.Duration, now time.Time) (int64, error) {
	k := m.keyOf(key, window, now)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[k], nil
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
