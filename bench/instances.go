package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// instancesResults is one -instances run: the same closed-loop load on one
// gateway counting limits in memory, one counting them in Redis, and two
// sharing that Redis and one database, round by round.
type instancesResults struct {
	Start     time.Time      `json:"start"`
	Commit    string         `json:"commit"`
	GoVersion string         `json:"go_version"`
	Conns     int            `json:"conns"`
	DurationS float64        `json:"closed_loop_seconds"`
	Machine   machine        `json:"machine"`
	Rounds    []instancesRun `json:"rounds"`
	// Medians over the rounds of the per-round ratios.
	RedisThroughputRatio float64 `json:"redis_over_memory_throughput_ratio"`
	RedisCPURatio        float64 `json:"redis_over_memory_cpu_per_request_ratio"`
	PairThroughputRatio  float64 `json:"two_over_one_throughput_ratio"`
	PairCPURatio         float64 `json:"two_over_one_cpu_per_request_ratio"`
}

// instancesRun is one round; CPU is the gateways' own (not Redis's), in
// seconds per 1,000 requests.
type instancesRun struct {
	Round       int     `json:"round"`
	MemoryRPS   float64 `json:"memory_rps"`
	RedisRPS    float64 `json:"redis_rps"`
	PairRPS     float64 `json:"two_gateways_rps"`
	MemoryCPU1k float64 `json:"memory_cpu_seconds_per_1000"`
	RedisCPU1k  float64 `json:"redis_cpu_seconds_per_1000"`
	PairCPU1k   float64 `json:"two_gateways_cpu_seconds_per_1000"`
}

// limitedKey is a virtual key whose rpm, tpm and parallel limits are never
// reached but are counted on every request.
const limitedKey = `{"key_alias":"bench","rpm_limit":1000000000,"tpm_limit":1000000000000,"max_parallel_requests":100000}`

// limitedDeployment gives each deployment an rpm and a tpm that are never
// reached but are counted on every request: by the router in memory, in
// Redis with the key's counts where a gateway has one.
const limitedDeployment = "      rpm: 1000000000\n      tpm: 1000000000000\n"

// runInstances starts a Redis server and four gateways with keys: one
// counting limits in memory, one in Redis, and two sharing a Redis
// database and a SQLite file, as instances behind a load balancer. Each
// round puts the same closed-loop load on the single gateways and, split
// in half, on the pair at once, in an order that rotates by round.
func runInstances(ctx context.Context, o options, root, tmp, bin, wrkBin string, up *process, upURL string) error {
	const conns = 32
	var res instancesResults
	res.Start, res.Conns, res.DurationS = time.Now().UTC(), conns, o.duration.Seconds()
	res.Commit, res.GoVersion = commitAndGo(root)

	redisProc, redisAddr, err := startRedis()
	if err != nil {
		return err
	}
	defer redisProc.stop()
	logf("redis-server at %s", redisAddr)

	shared := filepath.Join(tmp, "shared")
	if err := os.MkdirAll(shared, 0o755); err != nil {
		return err
	}
	type gateway struct{ dir, db, redis string }
	gateways := []gateway{
		{dir: "memory"},
		{dir: "redis", redis: "redis://" + redisAddr + "/0"},
		{dir: "pair-a", db: filepath.Join(shared, "strata.db"), redis: "redis://" + redisAddr + "/1"},
		{dir: "pair-b", db: filepath.Join(shared, "strata.db"), redis: "redis://" + redisAddr + "/1"},
	}
	env := append(o.strataEnv[:len(o.strataEnv):len(o.strataEnv)], "STRATA_MASTER_KEY="+benchMasterKey)
	st := make([]*strataProcess, len(gateways))
	for i, g := range gateways {
		dir := filepath.Join(tmp, g.dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		cfg := strataConfigWith(upURL, limitedDeployment)
		if g.db != "" {
			cfg += "general_settings:\n  database_url: sqlite://" + g.db + "\n"
		}
		if g.redis != "" {
			cfg += "router_settings:\n  redis_url: " + g.redis + "\n"
		}
		s, err := startStrataConfig(bin, dir, cfg, o.strataArgs, env)
		if err != nil {
			return err
		}
		defer s.stop()
		st[i] = s
	}
	var keys [3]string
	for i := range keys {
		if keys[i], err = generateKeyWith(ctx, st[i].url, limitedKey); err != nil {
			return err
		}
	}
	b, err := writeBodies(tmp)
	if err != nil {
		return err
	}
	wrk, err := newWrkRunner(wrkBin, tmp, o.wrkThreads)
	if err != nil {
		return err
	}
	var wrkMu sync.Mutex
	wrkCPU := 0.0
	// load puts conns connections on the gateways given, split evenly, all
	// with key; it returns their summed throughput and CPU per request.
	load := func(targets []*strataProcess, key string, d time.Duration) (rps, cpu1k float64, err error) {
		var c0 float64
		for _, s := range targets {
			c, err := cpuSeconds(s.pid())
			if err != nil {
				return 0, 0, err
			}
			c0 += c
		}
		var wg sync.WaitGroup
		errs := make([]error, len(targets))
		var requests int64
		for i, s := range targets {
			wg.Go(func() {
				r, err := wrk.runWithKey(ctx, s.url+"/v1/chat/completions", b.chatPath, key, conns/len(targets), d)
				wrkMu.Lock()
				defer wrkMu.Unlock()
				errs[i] = err
				wrkCPU += r.CPUSeconds
				rps += r.rps()
				requests += r.Requests
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return 0, 0, err
		}
		var c1 float64
		for _, s := range targets {
			c, err := cpuSeconds(s.pid())
			if err != nil {
				return 0, 0, err
			}
			c1 += c
		}
		return rps, (c1 - c0) / float64(requests) * 1000, nil
	}
	setups := []struct {
		name    string
		targets []*strataProcess
		key     string
	}{
		{"one gateway, limits in memory", st[0:1], keys[0]},
		{"one gateway, limits in Redis", st[1:2], keys[1]},
		{"two gateways on one Redis", st[2:4], keys[2]},
	}
	logf("warming up")
	for _, s := range setups {
		if _, _, err := load(s.targets, s.key, time.Second); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(outDir(root, o.out), 0o755); err != nil {
		return err
	}
	busy0, total0 := machineCPU()
	ours0 := ourCPUOf(up, st) + redisCPU(redisProc)
	for round := 1; round <= o.rounds; round++ {
		run := instancesRun{Round: round}
		for k := range setups {
			i := (k + round - 1) % len(setups)
			rps, cpu, err := load(setups[i].targets, setups[i].key, o.duration)
			if err != nil {
				return err
			}
			switch i {
			case 0:
				run.MemoryRPS, run.MemoryCPU1k = rps, cpu
			case 1:
				run.RedisRPS, run.RedisCPU1k = rps, cpu
			case 2:
				run.PairRPS, run.PairCPU1k = rps, cpu
			}
			logf("round %d, %d connections, %-30s: %8.0f req/s, %.3f CPU s per 1,000 requests", round, conns, setups[i].name, rps, cpu)
		}
		res.Rounds = append(res.Rounds, run)
	}
	busy1, total1 := machineCPU()
	res.Machine = machineInfo(busy1-busy0, total1-total0, ourCPUOf(up, st)+redisCPU(redisProc)-ours0+wrkCPU)
	var rt, rc, pt, pc []float64
	for _, r := range res.Rounds {
		rt = append(rt, r.RedisRPS/r.MemoryRPS)
		rc = append(rc, r.RedisCPU1k/r.MemoryCPU1k)
		pt = append(pt, r.PairRPS/r.RedisRPS)
		pc = append(pc, r.PairCPU1k/r.RedisCPU1k)
	}
	res.RedisThroughputRatio, res.RedisCPURatio = median(rt), median(rc)
	res.PairThroughputRatio, res.PairCPURatio = median(pt), median(pc)
	fmt.Printf("\nlimits in Redis and two gateways, %d rounds of %s at %d connections with a key setting rpm, tpm and parallel limits and deployments setting rpm and tpm (medians of the per-round ratios):\n", o.rounds, o.duration, conns)
	fmt.Printf("  throughput, one gateway, limits in Redis / in memory: %.3f (%+.1f%%)\n", res.RedisThroughputRatio, (res.RedisThroughputRatio-1)*100)
	fmt.Printf("  gateway CPU per request, limits in Redis / in memory: %.3f (%+.1f%%)\n", res.RedisCPURatio, (res.RedisCPURatio-1)*100)
	fmt.Printf("  throughput, two gateways on one Redis / one gateway: %.3f (%+.1f%%)\n", res.PairThroughputRatio, (res.PairThroughputRatio-1)*100)
	fmt.Printf("  gateway CPU per request, two gateways / one gateway: %.3f (%+.1f%%)\n", res.PairCPURatio, (res.PairCPURatio-1)*100)
	fmt.Printf("  machine: %d CPUs, %.2f cores busy on average, %.2f of them by other processes\n", res.Machine.CPUs, res.Machine.BusyCores, res.Machine.OthersCores)
	path, err := saveJSON(outDir(root, o.out), res.Start.Format("20060102-150405")+"-instances", &res)
	if err != nil {
		return err
	}
	fmt.Printf("\nresults: %s\n", path)
	return nil
}

// startRedis starts a throwaway redis-server from PATH on a free loopback
// port, keeping nothing on disk, and waits until it answers.
func startRedis() (*process, string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, "", errors.New("-instances needs redis-server in PATH (apt-get install redis-server)")
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	p, err := start("redis-server", cmd)
	if err != nil {
		return nil, "", err
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			p.stop()
			return nil, "", errors.New("redis-server did not answer within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p, addr, nil
}

func redisCPU(p *process) float64 {
	c, _ := cpuSeconds(p.pid())
	return c
}
