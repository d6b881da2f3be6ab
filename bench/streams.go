package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// streamClient reads streamed answers and times them.
type streamClient struct {
	client *http.Client
}

func newStreamClient(maxConns int) *streamClient {
	tr := &http.Transport{
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	return &streamClient{client: &http.Client{Transport: tr}}
}

func (c *streamClient) close() { c.client.CloseIdleConnections() }

// streamTiming is one stream: time to the first byte of the body, to its
// end, and how the bytes arrived.
type streamTiming struct {
	ttfb, ttlb time.Duration
	// batched counts reads after the first that brought more than one
	// event: with paced events and a gateway that flushes each one, every
	// read brings one.
	batched int
	events  int
}

// eventCounter counts the events a read brought.
type eventCounter func(chunk []byte) int

// countSSE counts data events, less the "[DONE]" marker, which Strata
// writes right after the last chunk by design.
func countSSE(chunk []byte) int {
	return bytes.Count(chunk, []byte("data: ")) - bytes.Count(chunk, []byte("data: [DONE]"))
}

// frameCounter counts eventstream frames by walking their length prefixes.
func frameCounter() eventCounter {
	var pending []byte
	return func(chunk []byte) int {
		pending = append(pending, chunk...)
		n := 0
		for len(pending) >= 4 {
			size := int(pending[0])<<24 | int(pending[1])<<16 | int(pending[2])<<8 | int(pending[3])
			if size < 16 || len(pending) < size {
				break
			}
			pending = pending[size:]
			n++
		}
		return n
	}
}

// once sends one streaming request and reads it to the end.
func (c *streamClient) once(ctx context.Context, url string, body []byte, count eventCounter) (streamTiming, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return streamTiming{}, err
	}
	setRequestHeaders(req.Header)
	start := time.Now()
	resp, err := c.client.Do(req)
	if err != nil {
		return streamTiming{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return streamTiming{}, fmt.Errorf("stream from %s: %s: %s", url, resp.Status, b)
	}
	var t streamTiming
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if t.ttfb == 0 {
				t.ttfb = time.Since(start)
			}
			e := count(buf[:n])
			// The first events may come together: Strata holds a stream
			// until its first token, so that a failure before it can
			// still be retried on another deployment.
			if e > 1 && t.events > 0 {
				t.batched++
			}
			t.events += e
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return t, err
		}
	}
	t.ttlb = time.Since(start)
	return t, nil
}

type streamStats struct {
	Streams int     `json:"streams"`
	Events  int     `json:"events_per_stream"`
	TTFBP50 float64 `json:"ttfb_p50_us"`
	TTFBP99 float64 `json:"ttfb_p99_us"`
	TTLBP50 float64 `json:"ttlb_p50_us"`
	TTLBP99 float64 `json:"ttlb_p99_us"`
	// BatchedReads counts reads that carried more than one event, over all
	// streams; meaningful for paced streams.
	BatchedReads int `json:"batched_reads"`
}

// sequential runs n streams one after another.
func (c *streamClient) sequential(ctx context.Context, url string, body []byte, n int, sse bool) (streamStats, error) {
	var ttfb, ttlb []time.Duration
	st := streamStats{Streams: n}
	for range n {
		count := countSSE
		if !sse {
			count = frameCounter()
		}
		t, err := c.once(ctx, url, body, count)
		if err != nil {
			return st, err
		}
		ttfb = append(ttfb, t.ttfb)
		ttlb = append(ttlb, t.ttlb)
		st.BatchedReads += t.batched
		st.Events = t.events
	}
	slices.Sort(ttfb)
	slices.Sort(ttlb)
	st.TTFBP50, st.TTFBP99 = micros(percentile(ttfb, 50)), micros(percentile(ttfb, 99))
	st.TTLBP50, st.TTLBP99 = micros(percentile(ttlb, 50)), micros(percentile(ttlb, 99))
	return st, nil
}

// holdStreams opens n streams at once and keeps them open until every one
// has its first byte, then calls measure, then closes them all.
func (c *streamClient) holdStreams(ctx context.Context, url string, body []byte, n int, timeout time.Duration, measure func() error) (opened int, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var ready atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, n)
	started := make(chan struct{}, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
			if err != nil {
				errc <- err
				return
			}
			setRequestHeaders(req.Header)
			resp, err := c.client.Do(req)
			if err != nil {
				errc <- err
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errc <- fmt.Errorf("status %s", resp.Status)
				return
			}
			buf := make([]byte, 4096)
			first := true
			for {
				n, err := resp.Body.Read(buf)
				if n > 0 && first {
					first = false
					ready.Add(1)
					started <- struct{}{}
				}
				if err != nil {
					if ctx.Err() == nil && !errors.Is(err, io.EOF) {
						errc <- err
					}
					return
				}
			}
		}()
	}
	deadline := time.After(timeout)
	for int(ready.Load()) < n {
		select {
		case <-started:
		case err := <-errc:
			cancel()
			wg.Wait()
			return int(ready.Load()), fmt.Errorf("open %d streams: %w", n, err)
		case <-deadline:
			cancel()
			wg.Wait()
			return int(ready.Load()), fmt.Errorf("only %d of %d streams started within %s", ready.Load(), n, timeout)
		}
	}
	err = measure()
	cancel()
	wg.Wait()
	c.client.CloseIdleConnections()
	return n, err
}
