package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"text/tabwriter"
	"time"
)

// leanResults is one -lean run: the same loads on the upstream directly,
// on the bare net/http proxy, on the lean reference proxies and on Strata,
// to tell whether a leaner HTTP stack than net/http is worth having.
type leanResults struct {
	Start     time.Time     `json:"start"`
	Commit    string        `json:"commit"`
	GoVersion string        `json:"go_version"`
	DurationS float64       `json:"closed_loop_seconds"`
	Rounds    int           `json:"rounds"`
	RateRPS   float64       `json:"open_loop_rate_rps"`
	Machine   machine       `json:"machine"`
	Runs      []leanRun     `json:"closed_loop_runs"`
	OpenRuns  []leanOpenRun `json:"open_loop_and_stream_runs"`
	Targets   []leanSummary `json:"targets"`
}

type leanRun struct {
	Round int     `json:"round"`
	Conns int     `json:"conns"`
	Name  string  `json:"target"`
	RPS   float64 `json:"rps"`
	CPU1k float64 `json:"cpu_seconds_per_1000"`
}

// leanSummary is one target over the run: closed-loop medians, and their
// ratios to the bare net/http proxy's and to Strata's.
type leanSummary struct {
	Name      string     `json:"target"`
	What      string     `json:"what"`
	RPS32     float64    `json:"rps_32"`
	RPS128    float64    `json:"rps_128"`
	CPU1k     float64    `json:"cpu_seconds_per_1000_at_32"`
	VsNetHTTP leanRatios `json:"over_nethttp_proxy"`
	VsStrata  leanRatios `json:"over_strata"`
	// Medians over the rounds at the fixed rate and of the streams.
	CPU1kAtRate float64 `json:"cpu_seconds_per_1000_at_rate"`
	P50US       float64 `json:"p50_us_at_rate"`
	TTFBP50US   float64 `json:"stream_ttfb_p50_us"`
	TTLBP50US   float64 `json:"stream_ttlb_p50_us"`
	// Reads that brought more than one paced event (each flushed: 0).
	PacedBatchedReads int `json:"paced_batched_reads"`
}

// leanOpenRun is one target's open loop at the fixed rate and its
// sequential streams, in one round.
type leanOpenRun struct {
	Round       int     `json:"round"`
	Name        string  `json:"target"`
	P50US       float64 `json:"p50_us"`
	P99US       float64 `json:"p99_us"`
	CPU1kAtRate float64 `json:"cpu_seconds_per_1000"`
	TTFBP50US   float64 `json:"stream_ttfb_p50_us"`
	TTLBP50US   float64 `json:"stream_ttlb_p50_us"`
}

// leanRatios are a target's closed-loop figures over another's.
type leanRatios struct {
	RPS32     float64 `json:"rps_32"`
	RPS128    float64 `json:"rps_128"`
	CPU       float64 `json:"cpu_per_request_32"`
	CPUAtRate float64 `json:"cpu_per_request_at_rate"`
	P50       float64 `json:"p50_at_rate"`
	TTFB      float64 `json:"stream_ttfb_p50"`
}

// leanTarget is something the -lean run loads: a process and how to call it.
type leanTarget struct {
	name, what string
	pid        int
	base       string // base URL
	strata     bool   // takes chat requests and answers SSE, else Converse
}

func (t leanTarget) url(b *bodies, model string, stream bool) (url string, body []byte, bodyPath string) {
	if t.strata {
		body = b.chat
		switch {
		case model == modelPaced:
			body = b.chatPaced
		case stream:
			body = b.chatStream
		}
		return t.base + "/v1/chat/completions", body, b.chatPath
	}
	op := "converse"
	if stream {
		op = "converse-stream"
	}
	return t.base + "/model/" + model + "/" + op, b.converse, b.conversePath
}

// runLean starts the reference proxies (net/http, fasthttp on both sides,
// net/http server with fasthttp's client) and Strata, then measures each
// as the default run does: closed-loop throughput at 32 and 128
// connections in an order rotating by round, CPU per request, latency at a
// fixed rate, and stream timings.
func runLean(ctx context.Context, o options, root, tmp, bin, wrkBin string, up *process, upURL string) error {
	targets := []leanTarget{{name: "direct", what: "the upstream itself", pid: up.pid(), base: upURL}}
	for _, p := range []struct{ helper, name, what string }{
		{"proxy", "nethttp", "bare proxy: net/http server and client"},
		{"fastproxy", "fasthttp", "bare proxy: fasthttp server and client"},
		{"hybridproxy", "nethttp+fastclient", "bare proxy: net/http server, fasthttp client"},
	} {
		proc, addr, err := startHelper(p.helper, "-upstream", upURL)
		if err != nil {
			return err
		}
		defer proc.stop()
		targets = append(targets, leanTarget{name: p.name, what: p.what, pid: proc.pid(), base: "http://" + addr})
	}
	fastBin := filepath.Join(tmp, "strata-fastclient")
	logf("building strata with fasthttp's client (./bench/fastclient)")
	build := exec.Command("go", "build", "-o", fastBin, "./bench/fastclient")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./bench/fastclient: %w\n%s", err, out)
	}
	for _, s := range []struct{ bin, name, what string }{
		{bin, "strata", "Strata (the strata binary)"},
		{fastBin, "strata+fastclient", "Strata with its calls to the upstream on fasthttp's client"},
	} {
		dir := filepath.Join(tmp, s.name+"-run")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		st, err := startStrata(s.bin, dir, upURL, o.strataArgs, o.strataEnv)
		if err != nil {
			return err
		}
		defer st.stop()
		targets = append(targets, leanTarget{name: s.name, what: s.what, pid: st.pid(), base: st.url, strata: true})
	}

	b, err := writeBodies(tmp)
	if err != nil {
		return err
	}
	wrk, err := newWrkRunner(wrkBin, tmp, o.wrkThreads)
	if err != nil {
		return err
	}
	var res leanResults
	res.Start, res.DurationS, res.Rounds, res.RateRPS = time.Now().UTC(), o.duration.Seconds(), o.rounds, o.rate
	res.Commit, res.GoVersion = commitAndGo(root)
	busy0, total0 := machineCPU()
	ours := func() float64 {
		sum, _ := cpuSeconds(os.Getpid())
		for _, t := range targets {
			c, _ := cpuSeconds(t.pid)
			sum += c
		}
		return sum
	}
	ours0 := ours()
	wrkCPU := 0.0

	load := func(t leanTarget, conns int, d time.Duration) (leanRun, error) {
		url, _, bodyPath := t.url(b, modelFast, false)
		c0, err := cpuSeconds(t.pid)
		if err != nil {
			return leanRun{}, err
		}
		r, err := wrk.run(ctx, url, bodyPath, conns, d)
		if err != nil {
			return leanRun{}, err
		}
		wrkCPU += r.CPUSeconds
		c1, err := cpuSeconds(t.pid)
		return leanRun{Conns: conns, Name: t.name, RPS: r.rps(), CPU1k: (c1 - c0) / float64(r.Requests) * 1000}, err
	}
	logf("warming up")
	for _, t := range targets {
		if _, err := load(t, 32, time.Second); err != nil {
			return err
		}
	}
	for round := 1; round <= o.rounds; round++ {
		for _, conns := range []int{32, 128} {
			for i := range targets {
				t := targets[(i+round-1)%len(targets)]
				r, err := load(t, conns, o.duration)
				if err != nil {
					return err
				}
				r.Round = round
				res.Runs = append(res.Runs, r)
				logf("round %d, %3d connections, %-18s: %8.0f req/s, %.3f CPU s per 1,000 requests", round, conns, t.name, r.RPS, r.CPU1k)
			}
		}
	}

	// Latency at a fixed rate and stream timings, also round by round in a
	// rotating order: the machine's other tenants come and go.
	ol := newOpenLoop()
	defer ol.client.CloseIdleConnections()
	sc := newStreamClient(4)
	defer sc.close()
	for _, t := range targets {
		url, body, _ := t.url(b, modelFast, true)
		if _, err := sc.sequential(ctx, url, body, 5, t.strata); err != nil {
			return err
		}
	}
	paced := map[string]int{}
	for round := 1; round <= o.rounds; round++ {
		for i := range targets {
			t := targets[(i+round-1)%len(targets)]
			r := leanOpenRun{Round: round, Name: t.name}
			url, body, _ := t.url(b, modelFast, false)
			c0, err := cpuSeconds(t.pid)
			if err != nil {
				return err
			}
			l, err := ol.run(ctx, url, body, o.rate, o.latencyFor)
			if err != nil {
				return err
			}
			c1, err := cpuSeconds(t.pid)
			if err != nil {
				return err
			}
			r.P50US, r.P99US, r.CPU1kAtRate = l.P50US, l.P99US, (c1-c0)/float64(max(1, l.Requests))*1000
			url, body, _ = t.url(b, modelFast, true)
			st, err := sc.sequential(ctx, url, body, o.streams, t.strata)
			if err != nil {
				return err
			}
			r.TTFBP50US, r.TTLBP50US = st.TTFBP50, st.TTLBP50
			if round == 1 {
				url, body, _ = t.url(b, modelPaced, true)
				p, err := sc.sequential(ctx, url, body, o.pacedStreams, t.strata)
				if err != nil {
					return err
				}
				paced[t.name] = p.BatchedReads
			}
			res.OpenRuns = append(res.OpenRuns, r)
			logf("round %d, %-18s: p50 %.0f us at %.0f req/s, %.3f CPU s per 1,000 requests; stream TTFB p50 %.0f us, TTLB p50 %.0f us",
				round, t.name, r.P50US, o.rate, r.CPU1kAtRate, r.TTFBP50US, r.TTLBP50US)
		}
	}
	sums := make([]leanSummary, len(targets))
	for i, t := range targets {
		sums[i] = leanSummary{Name: t.name, What: t.what, PacedBatchedReads: paced[t.name]}
	}
	busy1, total1 := machineCPU()
	res.Machine = machineInfo(busy1-busy0, total1-total0, ours()-ours0+wrkCPU)
	summarizeLean(res.Runs, res.OpenRuns, sums)
	res.Targets = sums
	printLean(&res)
	path, err := saveJSON(outDir(root, o.out), res.Start.Format("20060102-150405")+"-lean", &res)
	if err != nil {
		return err
	}
	fmt.Printf("\nresults: %s\n", path)
	return nil
}

// summarizeLean fills the closed-loop medians and the ratios against the
// net/http proxy and against Strata, taken round by round so both sides of
// a ratio saw the same machine.
func summarizeLean(runs []leanRun, open []leanOpenRun, sums []leanSummary) {
	find := func(round, conns int, name string) (leanRun, bool) {
		for _, r := range runs {
			if r.Round == round && r.Conns == conns && r.Name == name {
				return r, true
			}
		}
		return leanRun{}, false
	}
	// against is the medians of name's per-round ratios to ref.
	against := func(name, ref string) leanRatios {
		var r32, r128, cpu []float64
		for _, r := range runs {
			if r.Name != name {
				continue
			}
			other, ok := find(r.Round, r.Conns, ref)
			if !ok {
				continue
			}
			if r.Conns == 32 {
				r32, cpu = append(r32, r.RPS/other.RPS), append(cpu, r.CPU1k/other.CPU1k)
			} else {
				r128 = append(r128, r.RPS/other.RPS)
			}
		}
		var cpuRate, p50, ttfb []float64
		for _, r := range open {
			if r.Name != name {
				continue
			}
			for _, other := range open {
				if other.Round == r.Round && other.Name == ref {
					cpuRate = append(cpuRate, r.CPU1kAtRate/other.CPU1kAtRate)
					p50 = append(p50, r.P50US/other.P50US)
					ttfb = append(ttfb, r.TTFBP50US/other.TTFBP50US)
				}
			}
		}
		return leanRatios{RPS32: median(r32), RPS128: median(r128), CPU: median(cpu),
			CPUAtRate: median(cpuRate), P50: median(p50), TTFB: median(ttfb)}
	}
	for i := range sums {
		s := &sums[i]
		var rps32, rps128, cpu []float64
		for _, r := range runs {
			if r.Name != s.Name {
				continue
			}
			if r.Conns == 32 {
				rps32, cpu = append(rps32, r.RPS), append(cpu, r.CPU1k)
			} else {
				rps128 = append(rps128, r.RPS)
			}
		}
		s.RPS32, s.RPS128, s.CPU1k = median(rps32), median(rps128), median(cpu)
		var cpuRate, p50, ttfb, ttlb []float64
		for _, r := range open {
			if r.Name == s.Name {
				cpuRate, p50 = append(cpuRate, r.CPU1kAtRate), append(p50, r.P50US)
				ttfb, ttlb = append(ttfb, r.TTFBP50US), append(ttlb, r.TTLBP50US)
			}
		}
		s.CPU1kAtRate, s.P50US, s.TTFBP50US, s.TTLBP50US = median(cpuRate), median(p50), median(ttfb), median(ttlb)
		s.VsNetHTTP, s.VsStrata = against(s.Name, "nethttp"), against(s.Name, "strata")
	}
}

func printLean(r *leanResults) {
	fmt.Printf("\nHTTP stacks, %s, commit %s, %s; %d rounds; machine busy %.2f cores on average, %.2f of them by other processes; load average at the end %s\n",
		r.Start.Format(time.RFC3339), r.Commit, r.GoVersion, r.Rounds, r.Machine.BusyCores, r.Machine.OthersCores, r.Machine.LoadAvg)
	fmt.Printf("medians over the rounds; ratios are medians of the per-round ratios\n\n")
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "target\treq/s at 32\tvs nethttp\treq/s at 128\tvs nethttp\tCPU s/1k\tvs nethttp\tCPU s/1k at %.0f/s\tp50 at %.0f/s (us)\tstream TTFB p50\tTTLB p50\tpaced reads >1 event\t\n", r.RateRPS, r.RateRPS)
	for _, s := range r.Targets {
		fmt.Fprintf(tw, "%s\t%s\t%.2fx\t%s\t%.2fx\t%.3f\t%.2fx\t%.3f\t%.0f\t%.0f\t%.0f\t%d\t\n",
			s.Name, num(s.RPS32), s.VsNetHTTP.RPS32, num(s.RPS128), s.VsNetHTTP.RPS128, s.CPU1k, s.VsNetHTTP.CPU, s.CPU1kAtRate,
			s.P50US, s.TTFBP50US, s.TTLBP50US, s.PacedBatchedReads)
	}
	tw.Flush()
	for _, s := range r.Targets {
		if s.Name == "strata+fastclient" {
			v := s.VsStrata
			fmt.Printf("\n%s over strata: req/s at 32 %.2fx, at 128 %.2fx; CPU per request %.2fx, at the fixed rate %.2fx; p50 at the fixed rate %.2fx; stream TTFB p50 %.2fx\n",
				s.Name, v.RPS32, v.RPS128, v.CPU, v.CPUAtRate, v.P50, v.TTFB)
		}
	}
	fmt.Println()
	for _, s := range r.Targets {
		fmt.Printf("  %-18s %s\n", s.Name, s.What)
	}
}
