package limits

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

//go:embed take.lua
var takeLua string

//go:embed settle.lua
var settleLua string

var (
	takeScript   = redis.NewScript(takeLua)
	settleScript = redis.NewScript(settleLua)
)

// inFlightTTL is how long a parallel-request count outlives its last
// request: the count of a gateway that died with requests in flight is
// forgotten then, instead of holding slots for ever. It is longer than
// any request the router lets run.
const inFlightTTL = 15 * time.Minute

// Redis is a Counter shared by every gateway on one Redis server: a
// request's counts are checked and taken by one script, and settled by
// another, each one round trip. Windows are the in-memory counter's fixed
// minutes, aligned to the epoch, so gateways agree on them.
type Redis struct {
	client  redis.Scripter
	prefix  string
	timeout time.Duration
}

// NewRedis counts in client under keys starting with prefix ("strata:");
// every call gets timeout.
func NewRedis(client redis.Scripter, prefix string, timeout time.Duration) *Redis {
	return &Redis{client: client, prefix: prefix, timeout: timeout}
}

func (r *Redis) counterKey(k Key, window time.Duration, now time.Time) string {
	if window <= 0 {
		return r.prefix + k.String()
	}
	return r.prefix + k.String() + ":" + strconv.FormatInt(windowStart(now, window).Unix(), 10)
}

// ttlOf is how long a counter taking n must live: to its window's end
// (and a second more for clocks a little apart), or inFlightTTL for what
// is in flight; 0 leaves a key's expiry alone.
func ttlOf(s Step, now time.Time) int64 {
	if s.N == 0 {
		return 0
	}
	if s.Window <= 0 {
		return inFlightTTL.Milliseconds()
	}
	return windowStart(now, s.Window).Add(s.Window + time.Second).Sub(now).Milliseconds()
}

func spendTTL(k SpendKey, now time.Time) int64 {
	if k.End.IsZero() {
		return 0
	}
	return max(k.End.Add(time.Minute).Sub(now).Milliseconds(), 1)
}

// Take implements Counter.
func (r *Redis) Take(ctx context.Context, steps []Step, spend []SpendKey, now time.Time) (Taken, error) {
	keys := make([]string, 0, len(steps)+len(spend))
	args := make([]any, 0, 1+3*len(steps)+2*len(spend))
	args = append(args, len(steps))
	for _, s := range steps {
		keys = append(keys, r.counterKey(s.Key, s.Window, now))
		args = append(args, s.N, s.Limit, ttlOf(s, now))
	}
	for _, k := range spend {
		keys = append(keys, r.prefix+k.String())
		args = append(args, strconv.FormatFloat(k.Seed, 'f', -1, 64), spendTTL(k, now))
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	res, err := takeScript.Run(ctx, r.client, keys, args...).Slice()
	if err != nil {
		return Taken{}, fmt.Errorf("redis: take counts: %w", err)
	}
	if len(res) < 1 {
		return Taken{}, fmt.Errorf("redis: take counts: empty answer")
	}
	t := Taken{Refused: int(toInt(res[0])), Counts: make([]int64, len(steps))}
	for i := 1; i < len(res) && i <= len(steps); i++ {
		t.Counts[i-1] = toInt(res[i])
	}
	if t.Refused >= 0 {
		return t, nil
	}
	if len(spend) > 0 {
		t.Spent = make([]float64, len(spend))
		for j := range spend {
			t.Spent[j] = -1
			if i := 1 + len(steps) + j; i < len(res) {
				if s, ok := res[i].(string); ok {
					if v, err := strconv.ParseFloat(s, 64); err == nil {
						t.Spent[j] = v
					}
				}
			}
		}
	}
	return t, nil
}

func toInt(v any) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}

// Settle implements Counter.
func (r *Redis) Settle(ctx context.Context, steps []Step, spend []SpendAdd, now time.Time) error {
	return r.settle(ctx, []settlement{{steps: steps, spend: spend, now: now}})
}

// settlement is one Settle's arguments.
type settlement struct {
	steps []Step
	spend []SpendAdd
	now   time.Time
}

// settle applies many settlements in one script call: counts of the same
// key are added together first, and each key keeps the longest expiry
// asked for.
func (r *Redis) settle(ctx context.Context, batch []settlement) error {
	var counters, spends settleKeys
	for _, b := range batch {
		for _, s := range b.steps {
			ttl := int64(0)
			if s.N > 0 {
				ttl = ttlOf(s, b.now)
			}
			counters.add(r.counterKey(s.Key, s.Window, b.now), float64(s.N), ttl)
		}
		for _, a := range b.spend {
			spends.add(r.prefix+a.Key.String(), a.Cost, spendTTL(a.Key, b.now))
		}
	}
	if len(counters.keys)+len(spends.keys) == 0 {
		return nil
	}
	keys := append(counters.keys, spends.keys...)
	args := make([]any, 0, 1+2*len(keys))
	args = append(args, len(counters.keys))
	for i := range counters.keys {
		args = append(args, int64(counters.n[i]), counters.ttl[i])
	}
	for i := range spends.keys {
		args = append(args, strconv.FormatFloat(spends.n[i], 'f', -1, 64), spends.ttl[i])
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := settleScript.Run(ctx, r.client, keys, args...).Err(); err != nil {
		return fmt.Errorf("redis: settle counts: %w", err)
	}
	return nil
}

// settleKeys sums what a batch adds to each key.
type settleKeys struct {
	index map[string]int
	keys  []string
	n     []float64
	ttl   []int64
}

func (s *settleKeys) add(key string, n float64, ttl int64) {
	if i, ok := s.index[key]; ok {
		s.n[i] += n
		s.ttl[i] = max(s.ttl[i], ttl)
		return
	}
	if s.index == nil {
		s.index = map[string]int{}
	}
	s.index[key] = len(s.keys)
	s.keys = append(s.keys, key)
	s.n = append(s.n, n)
	s.ttl = append(s.ttl, ttl)
}

// Failover counts in Primary while it answers, and in Fallback (this
// process's memory) while it does not: an outage of the shared store
// turns limits per-gateway instead of stopping requests.
type Failover struct {
	Primary, Fallback Counter
	// Up says whether the primary is thought to answer; Down is told of
	// each of its failures (and, say, starts watching for its return).
	Up   func() bool
	Down func(error)
}

// Take implements Counter.
func (f *Failover) Take(ctx context.Context, steps []Step, spend []SpendKey, now time.Time) (Taken, error) {
	if f.Up() {
		t, err := f.Primary.Take(ctx, steps, spend, now)
		if err == nil {
			t.by = failoverPrimary{f}
			return t, nil
		}
		f.Down(err)
	}
	t, err := f.Fallback.Take(ctx, steps, spend, now)
	t.by = f.Fallback
	return t, err
}

// Settle implements Counter; leases settle with the counter that took
// their counts, so this is only reached by a lease of neither.
func (f *Failover) Settle(ctx context.Context, steps []Step, spend []SpendAdd, now time.Time) error {
	return f.Fallback.Settle(ctx, steps, spend, now)
}

// failoverPrimary settles in the primary and reports its failures.
type failoverPrimary struct{ f *Failover }

func (p failoverPrimary) Take(ctx context.Context, steps []Step, spend []SpendKey, now time.Time) (Taken, error) {
	return p.f.Take(ctx, steps, spend, now)
}

func (p failoverPrimary) Settle(ctx context.Context, steps []Step, spend []SpendAdd, now time.Time) error {
	err := p.f.Primary.Settle(ctx, steps, spend, now)
	if err != nil {
		p.f.Down(err)
	}
	return err
}
