package router

import "time"

// window counts events over the last minute, to the second: requests for
// rpm, tokens for tpm, failures for allowed_fails. It is a ring of
// one-second buckets with a running total, so counting is O(1) and a
// burst at a minute boundary cannot pass twice the limit.
type window struct {
	buckets [windowSeconds]int64
	head    int64 // the Unix second of the newest bucket
	total   int64
}

const windowSeconds = 60

// roll empties the buckets that fell out of the minute before now.
func (w *window) roll(now time.Time) {
	sec := now.Unix()
	if sec <= w.head {
		return // same second, or a clock that stepped back
	}
	if sec-w.head >= windowSeconds {
		w.reset()
	} else {
		for s := w.head + 1; s <= sec; s++ {
			i := s % windowSeconds
			w.total -= w.buckets[i]
			w.buckets[i] = 0
		}
	}
	w.head = sec
}

func (w *window) add(now time.Time, n int64) {
	w.roll(now)
	w.buckets[w.head%windowSeconds] += n
	w.total += n
}

// count is the events of the minute before now.
func (w *window) count(now time.Time) int64 {
	w.roll(now)
	return w.total
}

func (w *window) reset() {
	w.buckets = [windowSeconds]int64{}
	w.total = 0
}

// waitAtMost is how long until count drops to at most n, if nothing is
// added: the time the oldest buckets take to leave the minute.
func (w *window) waitAtMost(n int64, now time.Time) time.Duration {
	left := w.count(now)
	if left <= n {
		return 0
	}
	for s := w.head - windowSeconds + 1; s <= w.head; s++ {
		left -= w.buckets[s%windowSeconds]
		if left <= n {
			return time.Unix(s+windowSeconds, 0).Sub(now)
		}
	}
	return time.Unix(w.head+windowSeconds, 0).Sub(now)
}

// ewma is an exponentially weighted moving average of durations.
type ewma struct {
	value   float64 // seconds
	samples int
}

// ewmaWeight is the weight of a new sample: about the last ten samples count.
const ewmaWeight = 0.2

func (e *ewma) observe(d time.Duration) {
	s := d.Seconds()
	if e.samples == 0 {
		e.value = s
	} else {
		e.value += ewmaWeight * (s - e.value)
	}
	e.samples++
}
