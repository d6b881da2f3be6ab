package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// bench holds one run: what it drives and what it found.
type bench struct {
	o        options
	root     string
	up       *process
	upURL    string
	proxy    *process
	proxyURL string
	st       *strataProcess
	wrk      *wrkRunner
	bodies   *bodies
	wrkCPU   float64
	res      results
}

func (b *bench) directURL(model, op string) string {
	return b.upURL + "/model/" + model + "/" + op
}

func (b *bench) strataURL() string { return b.st.url + "/v1/chat/completions" }

func (b *bench) runAll(ctx context.Context) error {
	b.res.Settings = settings{
		DurationS: b.o.duration.Seconds(), Rounds: b.o.rounds, WrkThreads: b.o.wrkThreads,
		LatencyDurationS: b.o.latencyFor.Seconds(), StrataArgs: b.o.strataArgs, StrataEnv: b.o.strataEnv,
		StreamEvents: streamEvents, PacedIntervalMS: float64(pacedInterval) / 1e6,
		HeldStreams: b.o.holdStreams, Auth: b.o.auth,
	}
	b.res.Commit, b.res.GoVersion = commitAndGo(b.root)

	// Idle: started, nothing served yet.
	time.Sleep(time.Second)
	var err error
	if b.res.Memory.IdleRSS, err = rssBytes(b.st.pid()); err != nil {
		return err
	}
	if b.res.Memory.IdleGoroutines, err = b.st.goroutines(ctx); err != nil {
		return err
	}
	logf("idle: RSS %s, %d goroutines", mb(b.res.Memory.IdleRSS), b.res.Memory.IdleGoroutines.Total)

	if !b.o.skipThroughput {
		if err := b.throughput(ctx); err != nil {
			return err
		}
	}
	if err := b.latency(ctx); err != nil {
		return err
	}
	if err := b.streaming(ctx); err != nil {
		return err
	}
	return b.heldStreams(ctx)
}

// throughput runs the closed-loop load: per round, each connection count
// against the upstream directly, through Strata and through the reference
// proxy, back to back, so all see the same machine. RSS and goroutines are read after each round.
func (b *bench) throughput(ctx context.Context) error {
	logf("warming up")
	if _, err := b.wrk.run(ctx, b.directURL(modelFast, "converse"), b.bodies.conversePath, 32, time.Second); err != nil {
		return err
	}
	if _, err := b.wrk.run(ctx, b.strataURL(), b.bodies.chatPath, 32, time.Second); err != nil {
		return err
	}
	for round := 1; round <= b.o.rounds; round++ {
		for _, conns := range []int{32, 128} {
			for _, target := range []string{"direct", "strata", "proxy"} {
				url, body, pid := b.directURL(modelFast, "converse"), b.bodies.conversePath, b.up.pid()
				switch target {
				case "strata":
					url, body, pid = b.strataURL(), b.bodies.chatPath, b.st.pid()
				case "proxy":
					url, pid = b.proxyURL+"/model/"+modelFast+"/converse", b.proxy.pid()
				}
				var profDone chan error
				if b.o.profile && target == "strata" && conns == 32 && round == 1 {
					profDone = make(chan error, 1)
					go func() { profDone <- b.profile(ctx) }()
				}
				cpu0, err := cpuSeconds(pid)
				if err != nil {
					return err
				}
				r, err := b.wrk.run(ctx, url, body, conns, b.o.duration)
				if err != nil {
					return err
				}
				cpu1, err := cpuSeconds(pid)
				if err != nil {
					return err
				}
				if profDone != nil {
					if err := <-profDone; err != nil {
						return err
					}
				}
				b.wrkCPU += r.CPUSeconds
				run := throughputRun{
					Round: round, Conns: conns, Target: target, RPS: r.rps(), Requests: r.Requests,
					P50US: r.P50US, P99US: r.P99US, ServerCPUSeconds: cpu1 - cpu0,
				}
				b.res.Throughput = append(b.res.Throughput, run)
				logf("round %d, %3d connections, %-6s: %8.0f req/s (p50 %d us, p99 %d us, server CPU %.2fs)",
					round, conns, target, run.RPS, r.P50US, r.P99US, run.ServerCPUSeconds)
			}
		}
		time.Sleep(time.Second)
		rss, err := rssBytes(b.st.pid())
		if err != nil {
			return err
		}
		g, err := b.st.goroutines(ctx)
		if err != nil {
			return err
		}
		b.res.Leak = append(b.res.Leak, leakRound{Round: round, RSS: rss, Goroutines: g})
		logf("after round %d: RSS %s, %d goroutines (%d of pooled connections)", round, mb(rss), g.Total, g.Pooled)
	}
	b.res.Memory.AfterLoadRSS = b.res.Leak[len(b.res.Leak)-1].RSS
	b.res.ThroughputSummary = summarizeThroughput(b.res.Throughput)
	b.res.CPU = summarizeCPU(b.res.Throughput)
	return nil
}

// profile records Strata's CPU while the first 32-connection run goes on.
func (b *bench) profile(ctx context.Context) error {
	d := max(time.Second, b.o.duration-time.Second).Truncate(time.Second)
	dir := filepath.Join(b.root, b.o.out)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, b.res.Start.Format("20060102-150405")+"-strata-cpu.pprof")
	b.res.CPUProfile = path
	time.Sleep(500 * time.Millisecond)
	return b.st.cpuProfile(ctx, d, path)
}

// latency runs the open-loop load at a fixed rate below saturation.
func (b *bench) latency(ctx context.Context) error {
	rate := b.o.rate
	if rate == 0 {
		for _, s := range b.res.ThroughputSummary {
			if s.Conns == 32 {
				rate = math.Floor(s.StrataRPS/4/100) * 100
			}
		}
		rate = max(rate, 100)
	}
	b.res.Latency.RateRPS = rate
	ol := newOpenLoop()
	defer ol.client.CloseIdleConnections()
	var err error
	logf("open loop at %.0f req/s for %s, direct", rate, b.o.latencyFor)
	if b.res.Latency.Direct, err = ol.run(ctx, b.directURL(modelFast, "converse"), b.bodies.converse, rate, b.o.latencyFor); err != nil {
		return err
	}
	// CPU per request at a fixed rate includes what saturation hides: a
	// wake-up per request instead of batches of work.
	withCPU := func(pid int, f func() (latencyStats, error)) (latencyStats, float64, error) {
		c0, err := cpuSeconds(pid)
		if err != nil {
			return latencyStats{}, 0, err
		}
		st, err := f()
		c1, cerr := cpuSeconds(pid)
		if err == nil {
			err = cerr
		}
		return st, (c1 - c0) / float64(max(1, st.Requests)) * 1000, err
	}
	logf("open loop at %.0f req/s for %s, through strata", rate, b.o.latencyFor)
	if b.res.Latency.Strata, b.res.CPU.StrataPer1000AtRate, err = withCPU(b.st.pid(), func() (latencyStats, error) {
		return ol.run(ctx, b.strataURL(), b.bodies.chat, rate, b.o.latencyFor)
	}); err != nil {
		return err
	}
	logf("open loop at %.0f req/s for %s, through the reference proxy", rate, b.o.latencyFor)
	if b.res.Latency.Proxy, b.res.CPU.ProxyPer1000AtRate, err = withCPU(b.proxy.pid(), func() (latencyStats, error) {
		return ol.run(ctx, b.proxyURL+"/model/"+modelFast+"/converse", b.bodies.converse, rate, b.o.latencyFor)
	}); err != nil {
		return err
	}
	l := &b.res.Latency
	l.AddedP50US = l.Strata.P50US - l.Direct.P50US
	l.AddedP99US = l.Strata.P99US - l.Direct.P99US
	l.AddedP999US = l.Strata.P999US - l.Direct.P999US
	logf("added latency: p50 %+.0f us, p99 %+.0f us, p99.9 %+.0f us (reference proxy: p50 %+.0f us, p99 %+.0f us)",
		l.AddedP50US, l.AddedP99US, l.AddedP999US, l.Proxy.P50US-l.Direct.P50US, l.Proxy.P99US-l.Direct.P99US)
	return nil
}

// streaming times 50-event streams one after another, then reads paced
// streams to see that every event is flushed when it arrives.
func (b *bench) streaming(ctx context.Context) error {
	sc := newStreamClient(4)
	defer sc.close()
	s := &b.res.Stream
	var err error
	logf("%d streams of %d events, direct and through strata", b.o.streams, streamEvents)
	// Warm the connections first.
	if _, err = sc.sequential(ctx, b.directURL(modelFast, "converse-stream"), b.bodies.converse, 5, false); err != nil {
		return err
	}
	if _, err = sc.sequential(ctx, b.proxyURL+"/model/"+modelFast+"/converse-stream", b.bodies.converse, 5, false); err != nil {
		return err
	}
	if _, err = sc.sequential(ctx, b.strataURL(), b.bodies.chatStream, 5, true); err != nil {
		return err
	}
	if s.Direct, err = sc.sequential(ctx, b.directURL(modelFast, "converse-stream"), b.bodies.converse, b.o.streams, false); err != nil {
		return err
	}
	if s.Strata, err = sc.sequential(ctx, b.strataURL(), b.bodies.chatStream, b.o.streams, true); err != nil {
		return err
	}
	if s.Proxy, err = sc.sequential(ctx, b.proxyURL+"/model/"+modelFast+"/converse-stream", b.bodies.converse, b.o.streams, false); err != nil {
		return err
	}
	s.AddedTTFBP50US = s.Strata.TTFBP50 - s.Direct.TTFBP50
	s.AddedTTLBP50US = s.Strata.TTLBP50 - s.Direct.TTLBP50
	logf("added TTFB p50 %+.0f us, TTLB p50 %+.0f us", s.AddedTTFBP50US, s.AddedTTLBP50US)

	logf("%d paced streams (%s between events)", b.o.pacedStreams, pacedInterval)
	if s.PacedDirect, err = sc.sequential(ctx, b.directURL(modelPaced, "converse-stream"), b.bodies.converse, b.o.pacedStreams, false); err != nil {
		return err
	}
	if s.PacedStrata, err = sc.sequential(ctx, b.strataURL(), b.bodies.chatPaced, b.o.pacedStreams, true); err != nil {
		return err
	}
	logf("reads with more than one event: direct %d, strata %d", s.PacedDirect.BatchedReads, s.PacedStrata.BatchedReads)
	return nil
}

// heldStreams opens many slow streams at once and reads Strata's RSS while
// they are open, then checks that closing them gives everything back.
func (b *bench) heldStreams(ctx context.Context) error {
	n := b.o.holdStreams
	if n <= 0 {
		return nil
	}
	m := &b.res.Memory
	sc := newStreamClient(n)
	defer sc.close()
	logf("holding %d slow streams open", n)
	opened, err := sc.holdStreams(ctx, b.strataURL(), b.bodies.chatSlow, n, 30*time.Second, func() error {
		// Streams are open and idle between events: read RSS a few times
		// over a second and keep the highest.
		for range 5 {
			time.Sleep(200 * time.Millisecond)
			rss, err := rssBytes(b.st.pid())
			if err != nil {
				return err
			}
			m.HeldStreamsRSS = max(m.HeldStreamsRSS, rss)
		}
		g, err := b.st.goroutines(ctx)
		m.HeldGoroutines = g
		return err
	})
	m.HeldStreams = opened
	if err != nil {
		return err
	}
	logf("%d streams open: RSS %s, %d goroutines", opened, mb(m.HeldStreamsRSS), m.HeldGoroutines.Total)
	// Closed streams must give their goroutines back promptly.
	deadline := time.Now().Add(10 * time.Second)
	for {
		time.Sleep(500 * time.Millisecond)
		g, err := b.st.goroutines(ctx)
		if err != nil {
			return err
		}
		m.AfterStreamsGoroutines = g
		if g.working() <= m.IdleGoroutines.working() || time.Now().After(deadline) {
			break
		}
	}
	if m.AfterStreamsRSS, err = rssBytes(b.st.pid()); err != nil {
		return err
	}
	logf("streams closed: RSS %s, %d goroutines", mb(m.AfterStreamsRSS), m.AfterStreamsGoroutines.Total)
	return nil
}

func summarizeThroughput(runs []throughputRun) []throughputSummary {
	var out []throughputSummary
	for _, conns := range []int{32, 128} {
		var direct, strata, proxy, ratios, proxyRatios []float64
		for _, r := range runs {
			if r.Conns != conns {
				continue
			}
			switch r.Target {
			case "direct":
				direct = append(direct, r.RPS)
			case "strata":
				strata = append(strata, r.RPS)
			case "proxy":
				proxy = append(proxy, r.RPS)
			}
		}
		for i := range min(len(direct), len(strata), len(proxy)) {
			ratios = append(ratios, strata[i]/direct[i])
			proxyRatios = append(proxyRatios, proxy[i]/direct[i])
		}
		out = append(out, throughputSummary{
			Conns: conns, DirectRPS: median(direct), StrataRPS: median(strata), Ratio: median(ratios), RoundRatios: ratios,
			ProxyRPS: median(proxy), ProxyRatio: median(proxyRatios),
		})
	}
	return out
}

func summarizeCPU(runs []throughputRun) cpuResult {
	cpu := map[string]float64{}
	reqs := map[string]int64{}
	for _, r := range runs {
		if r.Conns == 32 {
			cpu[r.Target] += r.ServerCPUSeconds
			reqs[r.Target] += r.Requests
		}
	}
	per1000 := func(target string) float64 {
		if reqs[target] == 0 {
			return 0
		}
		return cpu[target] / float64(reqs[target]) * 1000
	}
	return cpuResult{StrataPer1000: per1000("strata"), UpstreamPer1000: per1000("direct"), ProxyPer1000: per1000("proxy")}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }
