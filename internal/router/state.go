package router

import (
	"sync"
	"sync/atomic"
	"time"
)

// state is what the router learns about a deployment as it serves:
// requests in flight, usage over the last minute, failures and cooldown,
// and how fast it answers.
type state struct {
	inFlight atomic.Int64
	// slots is the calls holding one of max_parallel_requests, where this
	// gateway counts it.
	slots atomic.Int64

	mu        sync.Mutex
	requests  window // calls started, against rpm
	tokens    window // tokens used, against tpm
	fails     window // failures, against allowed_fails
	served    window // calls answered well, for Stats
	failed    window // failures, for Stats: never reset by a cooldown
	coolUntil time.Time
	// full is when a deployment the shared counter found at its rpm or tpm
	// has room again.
	full     time.Time
	lastFail time.Time
	latency  ewma // whole answers
	ttft     ewma // streams: time to first token
	shared   shared
}

// limitWait is how long until the deployment has room under its rpm and
// tpm limits; zero when it has room now.
func (s *state) limitWait(p Policy, now time.Time) time.Duration {
	if p.RPM == 0 && p.TPM == 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limitWaitLocked(p, now)
}

func (s *state) limitWaitLocked(p Policy, now time.Time) time.Duration {
	// Room for one more request, and for at least one more token.
	var wait time.Duration
	if p.RPM > 0 {
		wait = s.requests.waitAtMost(int64(p.RPM)-1, now)
	}
	if p.TPM > 0 {
		wait = max(wait, s.tokens.waitAtMost(int64(p.TPM)-1, now))
	}
	return wait
}

// reserve counts a call against rpm, unless a concurrent pick took the
// last room first.
func (s *state) reserve(p Policy, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limitWaitLocked(p, now) > 0 {
		return false
	}
	s.requests.add(now, 1)
	return true
}

// slotWait is how long to wait for one of max_parallel_requests: a
// second, as for the request's own parallel limits; zero when one is free.
func (s *state) slotWait(p Policy) time.Duration {
	if p.MaxParallel > 0 && s.slots.Load() >= int64(p.MaxParallel) {
		return time.Second
	}
	return 0
}

// takeSlot holds one of max_parallel_requests, unless none is free.
func (s *state) takeSlot(p Policy) bool {
	if p.MaxParallel <= 0 {
		return true
	}
	for {
		n := s.slots.Load()
		if n >= int64(p.MaxParallel) {
			return false
		}
		if s.slots.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// releaseSlot gives back what takeSlot held.
func (s *state) releaseSlot(p Policy) {
	if p.MaxParallel > 0 {
		s.slots.Add(-1)
	}
}

// started counts a call the shared counter admitted, for Stats.
func (s *state) started(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests.add(now, 1)
}

// fullUntil notes that the shared counter has no room on the deployment
// until then.
func (s *state) fullUntil(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.After(s.full) {
		s.full = t
	}
}

// fullWait is how long the deployment is still known to be full.
func (s *state) fullWait(now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(s.full.Sub(now), 0)
}

func (s *state) cooling(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.coolUntil.After(now)
}

// coolTo cools the deployment down until the given time, unless it
// already is for longer.
func (s *state) coolTo(until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if until.After(s.coolUntil) {
		s.coolUntil = until
		s.fails.reset()
	}
}

func (s *state) cooldownEnd() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.coolUntil
}

func (s *state) lastFailure() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastFail
}

// fail records a failure. A rate limit cools the deployment down at once;
// otherwise it cools down once it failed more than allowed times within a
// minute. It reports whether a cooldown started.
func (s *state) fail(now time.Time, rateLimited bool, allowed int, cooldown time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastFail = now
	s.fails.add(now, 1)
	s.failed.add(now, 1)
	if cooldown <= 0 || s.coolUntil.After(now) {
		return false
	}
	if !rateLimited && s.fails.count(now) <= int64(allowed) {
		return false
	}
	s.coolUntil = now.Add(cooldown)
	s.fails.reset() // back in rotation, it gets allowed_fails afresh
	return true
}

// used records tokens against tpm.
func (s *state) used(now time.Time, tokens int) {
	if tokens <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens.add(now, int64(tokens))
	s.shared.pending.Tokens += int64(tokens)
}

// answered records a call that ended well.
func (s *state) answered(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.served.add(now, 1)
}

// observeLatency feeds the latency-based strategy: a stream's time to
// first token, or a whole answer's duration.
func (s *state) observeLatency(d time.Duration, stream bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if stream {
		s.ttft.observe(d)
		s.shared.pending.TimeToFirstToken.add(d)
	} else {
		s.latency.observe(d)
		s.shared.pending.Latency.add(d)
	}
}

func (s *Samples) add(d time.Duration) {
	s.N++
	s.Sum += d.Seconds()
}

// latencyScore is the moving average the latency-based strategy compares:
// the gateways' shared one while fresh, else this gateway's own. A
// deployment never measured scores zero, so it gets tried.
func (s *state) latencyScore(stream bool, now time.Time) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	own, shared := s.latency.value, s.shared.figures.Latency
	if stream {
		own, shared = s.ttft.value, s.shared.figures.TimeToFirstToken
	}
	if shared > 0 && s.shared.until.After(now) {
		return shared
	}
	return own
}

// tokensUsed is what usage-based routing compares: the tokens of the last
// minute, used by every gateway while the shared figures are fresh (with
// this gateway's not sent yet), else by this gateway.
func (s *state) tokensUsed(now time.Time) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shared.until.After(now) {
		return s.shared.figures.tokens(now) + float64(s.shared.pending.Tokens)
	}
	return float64(s.tokens.count(now))
}

// Stats is what the router saw of a deployment lately, for people
// watching it: nothing here steers routing.
type Stats struct {
	InFlight         int64
	CoolingDownUntil time.Time // zero when in rotation
	LastFailure      time.Time // zero when it never failed
	// Moving averages over about the last ten calls; zero until measured.
	Latency          time.Duration // whole answers
	TimeToFirstToken time.Duration // streams
	// Over the last minute: calls started, tokens used, calls answered
	// well and calls failed by the deployment's doing (not the client's).
	Requests, Tokens, Succeeded, Failed int64
	// Shared is what every gateway sharing a Redis saw, as routing reads
	// it; nil while no fresh figures came from Redis.
	Shared *SharedStats
}

// SharedStats is a deployment's figures shared by the gateways.
type SharedStats struct {
	Tokens           int64         // over about the last minute
	Latency          time.Duration // moving averages; zero until measured
	TimeToFirstToken time.Duration
}

// Stats reports d's recent health.
func (r *Router) Stats(d *Deployment) Stats {
	now := r.live.Load().now()
	s := d.state
	st := Stats{InFlight: s.inFlight.Load()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.coolUntil.After(now) {
		st.CoolingDownUntil = s.coolUntil
	}
	st.LastFailure = s.lastFail
	st.Latency = time.Duration(s.latency.value * float64(time.Second))
	st.TimeToFirstToken = time.Duration(s.ttft.value * float64(time.Second))
	st.Requests, st.Tokens = s.requests.count(now), s.tokens.count(now)
	st.Succeeded, st.Failed = s.served.count(now), s.failed.count(now)
	if s.shared.until.After(now) {
		f := &s.shared.figures
		st.Shared = &SharedStats{Tokens: int64(f.tokens(now)) + s.shared.pending.Tokens,
			Latency:          time.Duration(f.Latency * float64(time.Second)),
			TimeToFirstToken: time.Duration(f.TimeToFirstToken * float64(time.Second))}
	}
	return st
}
