package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// overheadResults is one -auth-overhead run: the same load on Strata without
// keys and on Strata with keys and spend logging, round by round.
type overheadResults struct {
	Start     time.Time     `json:"start"`
	Commit    string        `json:"commit"`
	GoVersion string        `json:"go_version"`
	Conns     int           `json:"conns"`
	Database  string        `json:"database"` // where the gateway with keys writes its spend logs: "sqlite" or "postgres"
	DurationS float64       `json:"closed_loop_seconds"`
	Machine   machine       `json:"machine"`
	Rounds    []overheadRun `json:"rounds"`
	// Medians over the rounds of keys/plain.
	ThroughputRatio float64 `json:"throughput_ratio"`
	CPURatio        float64 `json:"cpu_per_request_ratio"`
	// CPU profiles of the gateway with keys in the last round, when its
	// spend log is largest, and of the one without in the same round
	// (-profile): go tool pprof -diff_base PLAIN KEYS shows what keys add.
	CPUProfile      string `json:"cpu_profile,omitempty"`
	PlainCPUProfile string `json:"plain_cpu_profile,omitempty"`
}

type overheadRun struct {
	Round      int     `json:"round"`
	PlainRPS   float64 `json:"plain_rps"`
	KeysRPS    float64 `json:"keys_rps"`
	PlainCPU1k float64 `json:"plain_cpu_seconds_per_1000"`
	KeysCPU1k  float64 `json:"keys_cpu_seconds_per_1000"`
}

// runAuthOverhead starts two gateways in front of the same upstream, one
// without a master key and one with a master key and spend logging in
// SQLite (or the PostgreSQL database -database-url names), and puts the same closed-loop load on each in turn, the order
// alternating by round, so that both see the same machine.
func runAuthOverhead(ctx context.Context, o options, root, tmp, bin, wrkBin string, up *process, upURL string) error {
	const conns = 32
	var res overheadResults
	res.Start, res.Conns, res.DurationS = time.Now().UTC(), conns, o.duration.Seconds()
	res.Commit, res.GoVersion = commitAndGo(root)
	res.Database = "sqlite"
	if o.databaseURL != "" {
		res.Database = "postgres"
	}
	dirs := [2]string{filepath.Join(tmp, "plain"), filepath.Join(tmp, "keys")}
	var st [2]*strataProcess
	for i, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		env := o.strataEnv
		cfg := strataConfig(upURL)
		if i == 1 {
			env = append(env[:len(env):len(env)], "STRATA_MASTER_KEY="+benchMasterKey)
			if o.databaseURL != "" {
				cfg += "general_settings:\n  database_url: " + o.databaseURL + "\n"
			}
		}
		s, err := startStrataConfig(bin, dir, cfg, o.strataArgs, env)
		if err != nil {
			return err
		}
		defer s.stop()
		st[i] = s
	}
	key, err := generateKey(ctx, st[1].url)
	if err != nil {
		return err
	}
	b, err := writeBodies(tmp)
	if err != nil {
		return err
	}
	wrk, err := newWrkRunner(wrkBin, tmp, o.wrkThreads)
	if err != nil {
		return err
	}
	keys := [2]string{"", key}
	wrkCPU := 0.0
	names := [2]string{"without keys", "with keys"}
	load := func(i int, d time.Duration) (rps, cpu1k float64, err error) {
		c0, err := cpuSeconds(st[i].pid())
		if err != nil {
			return 0, 0, err
		}
		r, err := wrk.runWithKey(ctx, st[i].url+"/v1/chat/completions", b.chatPath, keys[i], conns, d)
		if err != nil {
			return 0, 0, err
		}
		wrkCPU += r.CPUSeconds
		c1, err := cpuSeconds(st[i].pid())
		return r.rps(), (c1 - c0) / float64(r.Requests) * 1000, err
	}
	logf("warming up")
	for i := range st {
		if _, _, err := load(i, time.Second); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(outDir(root, o.out), 0o755); err != nil {
		return err
	}
	busy0, total0 := machineCPU()
	ours0 := ourCPUOf(up, st[:])
	for round := 1; round <= o.rounds; round++ {
		run := overheadRun{Round: round}
		order := []int{0, 1}
		if round%2 == 0 {
			order = []int{1, 0}
		}
		for _, i := range order {
			var profDone chan error
			if o.profile && round == o.rounds {
				profDone = make(chan error, 1)
				path := filepath.Join(outDir(root, o.out), res.Start.Format("20060102-150405")+"-auth-overhead-cpu"+[2]string{"-plain", ""}[i]+".pprof")
				if i == 0 {
					res.PlainCPUProfile = path
				} else {
					res.CPUProfile = path
				}
				go func() {
					time.Sleep(500 * time.Millisecond)
					d := max(time.Second, o.duration-time.Second).Truncate(time.Second)
					profDone <- st[i].cpuProfile(ctx, d, path)
				}()
			}
			rps, cpu, err := load(i, o.duration)
			if err != nil {
				return err
			}
			if profDone != nil {
				if err := <-profDone; err != nil {
					return err
				}
			}
			if i == 0 {
				run.PlainRPS, run.PlainCPU1k = rps, cpu
			} else {
				run.KeysRPS, run.KeysCPU1k = rps, cpu
			}
			logf("round %d, %d connections, %-12s: %8.0f req/s, %.3f CPU s per 1,000 requests", round, conns, names[i], rps, cpu)
		}
		res.Rounds = append(res.Rounds, run)
	}
	busy1, total1 := machineCPU()
	res.Machine = machineInfo(busy1-busy0, total1-total0, ourCPUOf(up, st[:])-ours0+wrkCPU)
	var tr, cr []float64
	for _, r := range res.Rounds {
		tr = append(tr, r.KeysRPS/r.PlainRPS)
		cr = append(cr, r.KeysCPU1k/r.PlainCPU1k)
	}
	res.ThroughputRatio, res.CPURatio = median(tr), median(cr)
	fmt.Printf("\nkeys and spend logging in %s, %d rounds of %s at %d connections (medians of the per-round ratios):\n", res.Database, o.rounds, o.duration, conns)
	fmt.Printf("  throughput with keys / without: %.3f (%+.1f%%)\n", res.ThroughputRatio, (res.ThroughputRatio-1)*100)
	fmt.Printf("  CPU per request with keys / without: %.3f (%+.1f%%)\n", res.CPURatio, (res.CPURatio-1)*100)
	fmt.Printf("  machine: %d CPUs, %.2f cores busy on average, %.2f of them by other processes\n", res.Machine.CPUs, res.Machine.BusyCores, res.Machine.OthersCores)
	path, err := saveJSON(outDir(root, o.out), res.Start.Format("20060102-150405")+"-auth-overhead", &res)
	if err != nil {
		return err
	}
	fmt.Printf("\nresults: %s\n", path)
	return nil
}

// ourCPUOf is what the bench, the upstream and the gateways have used so far.
func ourCPUOf(up *process, st []*strataProcess) float64 {
	sum, _ := cpuSeconds(os.Getpid())
	c, _ := cpuSeconds(up.pid())
	sum += c
	for _, s := range st {
		c, _ := cpuSeconds(s.pid())
		sum += c
	}
	return sum
}

// outDir is -out: relative to the repository, unless absolute.
func outDir(root, out string) string {
	if filepath.IsAbs(out) {
		return out
	}
	return filepath.Join(root, out)
}
