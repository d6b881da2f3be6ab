package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// openLoop sends requests at a fixed rate whatever the answers do, and
// measures each one from the moment it was due, not from when it went out:
// a stall then shows as latency of every request due during it, instead of
// as requests never sent (coordinated omission), as wrk2 does.
//
// Go's timers wake about 1 ms late here, too coarse for a schedule of a
// few hundred microseconds, so the schedule runs on a locked OS thread
// that sleeps with nanosleep and a 1 ns timer slack (about 20 us late).
// Lateness is measured and reported; it is the same for both targets.
type openLoop struct {
	client *http.Client
}

func newOpenLoop() *openLoop {
	tr := &http.Transport{
		MaxIdleConns:        maxInFlight,
		MaxIdleConnsPerHost: maxInFlight,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	return &openLoop{client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// maxInFlight bounds the requests outstanding at once. A target that falls
// this far behind is saturated, and the excess is counted as dropped.
const maxInFlight = 512

type latencyStats struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	Dropped  int     `json:"dropped"`
	P50US    float64 `json:"p50_us"`
	P90US    float64 `json:"p90_us"`
	P99US    float64 `json:"p99_us"`
	P999US   float64 `json:"p999_us"`
	MaxUS    float64 `json:"max_us"`
	// LateP99US is how late the schedule itself sent requests (p99).
	LateP99US float64 `json:"schedule_late_p99_us"`
}

func (o *openLoop) run(ctx context.Context, url string, body []byte, rate float64, d time.Duration) (latencyStats, error) {
	n := int(rate * d.Seconds())
	period := time.Duration(float64(time.Second) / rate)
	lat := make([]time.Duration, n)
	late := make([]time.Duration, 0, n)
	failed := make([]bool, n)
	var inFlight atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once

	// One request to open a connection, so the first due request does not
	// pay for the handshake.
	if err := o.post(ctx, url, body); err != nil {
		return latencyStats{}, err
	}

	stats := latencyStats{Requests: n}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		const prSetTimerslack = 29
		_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerslack, 1, 0)
		defer syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerslack, 0, 0) // back to the default
		start := time.Now().Add(5 * time.Millisecond)
		for i := range n {
			due := start.Add(time.Duration(i) * period)
			if wait := time.Until(due); wait > 0 {
				ts := syscall.NsecToTimespec(wait.Nanoseconds())
				_ = syscall.Nanosleep(&ts, nil)
			}
			if ctx.Err() != nil {
				return
			}
			late = append(late, time.Since(due))
			if inFlight.Load() >= maxInFlight {
				failed[i] = true
				stats.Dropped++
				continue
			}
			inFlight.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer inFlight.Add(-1)
				err := o.post(ctx, url, body)
				lat[i] = time.Since(due)
				if err != nil {
					failed[i] = true
					errOnce.Do(func() { firstErr = err })
				}
			}()
		}
	}()
	<-done
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return stats, err
	}
	ok := make([]time.Duration, 0, n)
	for i, l := range lat {
		if failed[i] {
			continue
		}
		ok = append(ok, l)
	}
	stats.Errors = n - len(ok) - stats.Dropped
	if len(ok) == 0 {
		return stats, fmt.Errorf("open loop against %s: every request failed: %v", url, firstErr)
	}
	slices.Sort(ok)
	slices.Sort(late)
	stats.P50US = micros(percentile(ok, 50))
	stats.P90US = micros(percentile(ok, 90))
	stats.P99US = micros(percentile(ok, 99))
	stats.P999US = micros(percentile(ok, 99.9))
	stats.MaxUS = micros(ok[len(ok)-1])
	stats.LateP99US = micros(percentile(late, 99))
	if stats.Errors > 0 {
		return stats, fmt.Errorf("open loop against %s: %d of %d requests failed; first: %v", url, stats.Errors, n, firstErr)
	}
	return stats, nil
}

func (o *openLoop) post(ctx context.Context, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	setRequestHeaders(req.Header)
	resp, err := o.client.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

// percentile of sorted xs, nearest rank.
func percentile(xs []time.Duration, p float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	i := int(float64(len(xs))*p/100+0.5) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
