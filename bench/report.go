package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// results is one run, as saved to bench/results/<timestamp>.json.
type results struct {
	Start             time.Time           `json:"start"`
	Elapsed           string              `json:"elapsed"`
	Commit            string              `json:"commit"`
	GoVersion         string              `json:"go_version"`
	Settings          settings            `json:"settings"`
	Machine           machine             `json:"machine"`
	Throughput        []throughputRun     `json:"throughput_runs"`
	ThroughputSummary []throughputSummary `json:"throughput"`
	CPU               cpuResult           `json:"cpu"`
	Latency           latencyResult       `json:"latency"`
	Stream            streamResult        `json:"stream"`
	Memory            memoryResult        `json:"memory"`
	Leak              []leakRound         `json:"leak_check"`
	CPUProfile        string              `json:"cpu_profile,omitempty"`
	Targets           []target            `json:"targets"`
}

type settings struct {
	DurationS        float64  `json:"closed_loop_seconds"`
	Rounds           int      `json:"rounds"`
	WrkThreads       int      `json:"wrk_threads"`
	LatencyDurationS float64  `json:"open_loop_seconds"`
	StreamEvents     int      `json:"stream_events"`
	PacedIntervalMS  float64  `json:"paced_interval_ms"`
	HeldStreams      int      `json:"held_streams"`
	StrataArgs       []string `json:"strata_args,omitempty"`
	StrataEnv        []string `json:"strata_env,omitempty"`
	// Auth: Strata had a master key and every request a virtual key.
	Auth bool `json:"auth,omitempty"`
}

// machine tells how busy the machine was: other tenants' CPU competes with
// the run, which is why the targets are ratios measured in one run.
type machine struct {
	CPUs int `json:"cpus"`
	// BusyCores is the average number of cores in use during the run, by
	// everything; OthersCores is the part that was not this benchmark.
	BusyCores   float64 `json:"busy_cores"`
	OthersCores float64 `json:"others_cores"`
	LoadAvg     string  `json:"loadavg_end"`
}

type throughputRun struct {
	Round            int     `json:"round"`
	Conns            int     `json:"conns"`
	Target           string  `json:"target"`
	RPS              float64 `json:"rps"`
	Requests         int64   `json:"requests"`
	P50US            int64   `json:"p50_us"`
	P99US            int64   `json:"p99_us"`
	ServerCPUSeconds float64 `json:"server_cpu_seconds"`
}

type throughputSummary struct {
	Conns       int       `json:"conns"`
	DirectRPS   float64   `json:"direct_rps"`
	StrataRPS   float64   `json:"strata_rps"`
	Ratio       float64   `json:"ratio"`
	RoundRatios []float64 `json:"round_ratios"`
	// The reference: a bare net/http reverse proxy on the same path.
	ProxyRPS   float64 `json:"proxy_rps"`
	ProxyRatio float64 `json:"proxy_ratio"`
}

type cpuResult struct {
	StrataPer1000   float64 `json:"strata_cpu_seconds_per_1000"`
	UpstreamPer1000 float64 `json:"upstream_cpu_seconds_per_1000"`
	ProxyPer1000    float64 `json:"proxy_cpu_seconds_per_1000"`
	// At the open loop's fixed rate, below saturation.
	StrataPer1000AtRate float64 `json:"strata_cpu_seconds_per_1000_at_rate"`
	ProxyPer1000AtRate  float64 `json:"proxy_cpu_seconds_per_1000_at_rate"`
}

type latencyResult struct {
	RateRPS     float64      `json:"rate_rps"`
	Direct      latencyStats `json:"direct"`
	Strata      latencyStats `json:"strata"`
	Proxy       latencyStats `json:"proxy"`
	AddedP50US  float64      `json:"added_p50_us"`
	AddedP99US  float64      `json:"added_p99_us"`
	AddedP999US float64      `json:"added_p999_us"`
}

type streamResult struct {
	Direct         streamStats `json:"direct"`
	Strata         streamStats `json:"strata"`
	Proxy          streamStats `json:"proxy"`
	AddedTTFBP50US float64     `json:"added_ttfb_p50_us"`
	AddedTTLBP50US float64     `json:"added_ttlb_p50_us"`
	PacedDirect    streamStats `json:"paced_direct"`
	PacedStrata    streamStats `json:"paced_strata"`
}

type memoryResult struct {
	IdleRSS                int64          `json:"idle_rss"`
	IdleGoroutines         goroutineCount `json:"idle_goroutines"`
	AfterLoadRSS           int64          `json:"after_load_rss"`
	HeldStreams            int            `json:"held_streams"`
	HeldStreamsRSS         int64          `json:"held_streams_rss"`
	HeldGoroutines         goroutineCount `json:"held_streams_goroutines"`
	AfterStreamsRSS        int64          `json:"after_streams_rss"`
	AfterStreamsGoroutines goroutineCount `json:"after_streams_goroutines"`
}

type leakRound struct {
	Round      int            `json:"round"`
	RSS        int64          `json:"rss"`
	Goroutines goroutineCount `json:"goroutines"`
}

type target struct {
	Name   string `json:"name"`
	Want   string `json:"want"`
	Got    string `json:"got"`
	Met    bool   `json:"met"`
	Reason string `json:"note,omitempty"`
}

// evaluate checks the run against the targets of the performance issue.
func evaluate(r *results) []target {
	var ts []target
	add := func(name, want, got string, met bool) {
		ts = append(ts, target{Name: name, Want: want, Got: got, Met: met})
	}
	for _, s := range r.ThroughputSummary {
		if s.Conns == 32 {
			add("throughput through Strata, 32 connections", ">= 35% of direct", pct(s.Ratio), s.Ratio >= 0.35)
		}
	}
	l := r.Latency
	add("added latency p50 (open loop)", "<= 50 us", us(l.AddedP50US), l.AddedP50US <= 50)
	add("added latency p99 (open loop)", "<= 1000 us", us(l.AddedP99US), l.AddedP99US <= 1000)
	s := r.Stream
	add("added time to first byte, stream p50", "<= 200 us", us(s.AddedTTFBP50US), s.AddedTTFBP50US <= 200)
	add("every event flushed as it arrives", "no batched reads",
		fmt.Sprintf("%d batched reads (direct %d)", s.PacedStrata.BatchedReads, s.PacedDirect.BatchedReads),
		s.PacedStrata.BatchedReads <= s.PacedDirect.BatchedReads)
	m := r.Memory
	add("RSS idle", "<= 40 MB", mb(m.IdleRSS), m.IdleRSS <= 40<<20)
	if m.HeldStreams > 0 {
		add(fmt.Sprintf("RSS with %d streams open", m.HeldStreams), "<= 150 MB", mb(m.HeldStreamsRSS), m.HeldStreamsRSS <= 150<<20)
	}
	if len(r.Leak) >= 2 {
		first, last := r.Leak[0], r.Leak[len(r.Leak)-1]
		var rss, gs []string
		for _, lr := range r.Leak {
			rss = append(rss, fmt.Sprintf("%.1f", float64(lr.RSS)/(1<<20)))
			gs = append(gs, fmt.Sprint(lr.Goroutines.working()))
		}
		// Settled: the last round holds no more than the first, give or take
		// GC timing (10% and 2 MB of RSS) and a few goroutines. Goroutines of
		// idle pooled upstream connections are left out: the pool's size
		// follows the last load, within its bound.
		settled := float64(last.RSS) <= float64(first.RSS)*1.10+2<<20 && last.Goroutines.working() <= first.Goroutines.working()+4
		add("no growth across rounds (RSS MB; goroutines not pooled)", "settles",
			strings.Join(rss, " / ")+"; "+strings.Join(gs, " / "), settled)
	}
	if m.HeldStreams > 0 {
		idle, after := m.IdleGoroutines.working(), m.AfterStreamsGoroutines.working()
		add("goroutines back after streams close (not pooled)", fmt.Sprintf("<= idle (%d) + 4", idle), fmt.Sprint(after), after <= idle+4)
	}
	return ts
}

func printTable(w io.Writer, r *results) {
	fmt.Fprintf(w, "\nStrata load benchmark, %s, commit %s, %s, %d CPUs; machine busy %.2f cores on average, %.2f of them by other processes\n\n",
		r.Start.Format(time.RFC3339), r.Commit, r.GoVersion, r.Machine.CPUs, r.Machine.BusyCores, r.Machine.OthersCores)
	if r.Settings.Auth {
		fmt.Fprintf(w, "authentication on: a master key, keys in SQLite, every request with a virtual key\n\n")
	}
	if tuned := slices.Concat(r.Settings.StrataEnv, r.Settings.StrataArgs); len(tuned) > 0 {
		fmt.Fprintf(w, "strata run with: %s\n\n", strings.Join(tuned, " "))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(cols ...string) {
		for len(cols) < 5 {
			cols = append(cols, "")
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t")
	}
	row("", "direct", "through Strata", "Strata vs direct", "bare Go proxy (reference)")
	for _, s := range r.ThroughputSummary {
		row(fmt.Sprintf("throughput, %d connections (req/s)", s.Conns), num(s.DirectRPS), num(s.StrataRPS), pct(s.Ratio),
			num(s.ProxyRPS)+" = "+pct(s.ProxyRatio))
	}
	if r.CPU.StrataPer1000 > 0 {
		row("CPU seconds per 1,000 requests (server process)", fmt.Sprintf("%.3f", r.CPU.UpstreamPer1000), fmt.Sprintf("%.3f", r.CPU.StrataPer1000), "",
			fmt.Sprintf("%.3f", r.CPU.ProxyPer1000))
	}
	if r.CPU.StrataPer1000AtRate > 0 {
		row(fmt.Sprintf("  same, at %s req/s (open loop)", num(r.Latency.RateRPS)), "", fmt.Sprintf("%.3f", r.CPU.StrataPer1000AtRate), "",
			fmt.Sprintf("%.3f", r.CPU.ProxyPer1000AtRate))
	}
	l := r.Latency
	vsProxy := func(direct, proxy float64) string { return fmt.Sprintf("%.0f = %s", proxy, signed(proxy-direct)) }
	row(fmt.Sprintf("latency at %s req/s, p50 (us)", num(l.RateRPS)), us0(l.Direct.P50US), us0(l.Strata.P50US), signed(l.AddedP50US), vsProxy(l.Direct.P50US, l.Proxy.P50US))
	row("  p99 (us)", us0(l.Direct.P99US), us0(l.Strata.P99US), signed(l.AddedP99US), vsProxy(l.Direct.P99US, l.Proxy.P99US))
	row("  p99.9 (us)", us0(l.Direct.P999US), us0(l.Strata.P999US), signed(l.AddedP999US), vsProxy(l.Direct.P999US, l.Proxy.P999US))
	s := r.Stream
	row(fmt.Sprintf("stream of %d events, time to first byte p50 (us)", r.Settings.StreamEvents), us0(s.Direct.TTFBP50), us0(s.Strata.TTFBP50), signed(s.AddedTTFBP50US), vsProxy(s.Direct.TTFBP50, s.Proxy.TTFBP50))
	row("  time to first byte p99 (us)", us0(s.Direct.TTFBP99), us0(s.Strata.TTFBP99), signed(s.Strata.TTFBP99-s.Direct.TTFBP99), vsProxy(s.Direct.TTFBP99, s.Proxy.TTFBP99))
	row("  time to last byte p50 (us)", us0(s.Direct.TTLBP50), us0(s.Strata.TTLBP50), signed(s.AddedTTLBP50US), vsProxy(s.Direct.TTLBP50, s.Proxy.TTLBP50))
	row("  time to last byte p99 (us)", us0(s.Direct.TTLBP99), us0(s.Strata.TTLBP99), signed(s.Strata.TTLBP99-s.Direct.TTLBP99), vsProxy(s.Direct.TTLBP99, s.Proxy.TTLBP99))
	row(fmt.Sprintf("paced streams: reads holding >1 event (of %d streams)", s.PacedStrata.Streams), fmt.Sprint(s.PacedDirect.BatchedReads), fmt.Sprint(s.PacedStrata.BatchedReads), "")
	m := r.Memory
	row("Strata RSS idle / after load", "", mb(m.IdleRSS)+" / "+mb(m.AfterLoadRSS), "")
	if m.HeldStreams > 0 {
		row(fmt.Sprintf("Strata RSS with %d streams open / after", m.HeldStreams), "", mb(m.HeldStreamsRSS)+" / "+mb(m.AfterStreamsRSS), "")
		row("Strata goroutines idle / streams open / after", "", fmt.Sprintf("%d / %d / %d", m.IdleGoroutines.Total, m.HeldGoroutines.Total, m.AfterStreamsGoroutines.Total), "")
	}
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\twant\tgot\tmet\t")
	for _, t := range r.Targets {
		met := "yes"
		if !t.Met {
			met = "NO"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", t.Name, t.Want, t.Got, met)
	}
	tw.Flush()
}

// saveJSON writes v, indented, to dir/name.json and returns that path.
func saveJSON(dir, name string, v any) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name+".json")
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", err
	}
	return path, os.WriteFile(path, append(b, '\n'), 0o644)
}

// ourCPU is what the bench, its helpers and Strata have used so far.
func (b *bench) ourCPU() float64 {
	var sum float64
	for _, pid := range []int{os.Getpid(), b.up.pid(), b.proxy.pid(), b.st.pid()} {
		c, _ := cpuSeconds(pid)
		sum += c
	}
	return sum
}

func machineInfo(busy, total, ours float64) machine {
	m := machine{CPUs: runtime.NumCPU()}
	if total > 0 {
		// /proc/stat counts every CPU: total time is wall time x CPUs.
		wall := total / float64(m.CPUs)
		m.BusyCores = busy / wall
		m.OthersCores = max(0, (busy-ours)/wall)
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}

func commitAndGo(root string) (commit, goVersion string) {
	commit = "unknown"
	if out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
		if out, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(out) > 0 {
			commit += "+changes"
		}
	}
	goVersion = runtime.Version()
	if out, err := exec.Command("go", "env", "GOEXPERIMENT").Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
		goVersion += " GOEXPERIMENT=" + strings.TrimSpace(string(out))
	}
	return commit, goVersion
}

func num(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func pct(v float64) string    { return fmt.Sprintf("%.0f%%", v*100) }
func us(v float64) string     { return fmt.Sprintf("%+.0f us", v) }
func us0(v float64) string    { return fmt.Sprintf("%.0f", v) }
func signed(v float64) string { return fmt.Sprintf("%+.0f us", v) }
