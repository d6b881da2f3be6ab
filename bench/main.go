// Command bench is Strata's load benchmark. It starts a fixed-answer
// Bedrock upstream and the strata binary in front of it, puts the same load
// on both in one run, and reports what Strata adds: throughput, latency,
// streaming, memory and CPU. Run it from the repository with `go run ./bench`.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/translate"
)

func main() {
	helpers := map[string]func([]string) error{
		"upstream": runUpstream, "proxy": runProxy, "fastproxy": runFastProxy, "hybridproxy": runHybridProxy,
	}
	if len(os.Args) > 1 && helpers[os.Args[1]] != nil {
		if err := helpers[os.Args[1]](os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "bench %s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	duration       time.Duration
	rounds         int
	rate           float64
	latencyFor     time.Duration
	streams        int
	pacedStreams   int
	holdStreams    int
	wrkThreads     int
	profile        bool
	out            string
	strataArgs     stringList
	strataEnv      stringList
	skipThroughput bool
	auth           bool
	authOverhead   bool
	databaseURL    string
	instances      bool
	lean           bool
}

type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func run(ctx context.Context, args []string) error {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "length of each closed-loop (wrk) run")
	fs.IntVar(&o.rounds, "rounds", 3, "closed-loop rounds; RSS and goroutines are read after each (leak check)")
	fs.Float64Var(&o.rate, "rate", 1000, "open-loop request rate; 0 means a quarter of Strata's saturated throughput at 32 connections")
	fs.DurationVar(&o.latencyFor, "latency-duration", 10*time.Second, "length of each open-loop run")
	fs.IntVar(&o.streams, "streams", 200, "streams timed one after another, each way")
	fs.IntVar(&o.pacedStreams, "paced-streams", 5, "paced streams read to check that every event is flushed")
	fs.IntVar(&o.holdStreams, "hold-streams", 1000, "slow streams held open at once for the memory reading")
	fs.IntVar(&o.wrkThreads, "wrk-threads", 2, "wrk threads")
	fs.BoolVar(&o.profile, "profile", false, "save a CPU profile of Strata under the 32-connection load next to the results")
	fs.StringVar(&o.out, "out", "bench/results", "directory for the JSON results (relative to the repository)")
	fs.Var(&o.strataArgs, "strata-arg", "extra argument for strata (repeatable), e.g. -strata-arg=--log-level=warn")
	fs.Var(&o.strataEnv, "strata-env", "extra environment variable for strata alone (repeatable), e.g. -strata-env=GOGC=400")
	fs.BoolVar(&o.skipThroughput, "latency-only", false, "skip the closed-loop rounds (needs -rate)")
	fs.BoolVar(&o.auth, "auth", false, "turn Strata's authentication on (a master key, keys in SQLite) and send every request with a virtual key, so the key check and the accounting are measured too")
	fs.BoolVar(&o.authOverhead, "auth-overhead", false, "measure only what keys and spend logging cost: two strata processes, one without keys and one with -auth's, under the same closed-loop load, alternating, -rounds times")
	fs.StringVar(&o.databaseURL, "database-url", "", "under -auth-overhead, the database_url of the gateway with keys (a postgresql:// URL); default: the SQLite file in its directory")
	fs.BoolVar(&o.instances, "instances", false, "measure what sharing limits costs: one gateway with limits in memory, one with limits in Redis, and two on one Redis and one SQLite file, with keys, under the same closed-loop load (split in half over the two), in rotating order, -rounds times; starts redis-server from PATH")
	fs.BoolVar(&o.lean, "lean", false, "compare HTTP stacks: the bare net/http proxy, the same proxy on fasthttp (server and client) and on a net/http server with fasthttp's client, and Strata, under the same loads")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.skipThroughput && o.rate == 0 {
		return errors.New("-latency-only needs a -rate")
	}

	root, err := moduleRoot()
	if err != nil {
		return err
	}
	wrkBin, err := ensureWrk()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "strata-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	logf("building strata")
	bin, err := buildStrata(root, tmp)
	if err != nil {
		return err
	}
	up, upAddr, err := startHelper("upstream")
	if err != nil {
		return err
	}
	defer up.stop()
	upURL := "http://" + upAddr
	if o.authOverhead {
		return runAuthOverhead(ctx, o, root, tmp, bin, wrkBin, up, upURL)
	}
	if o.instances {
		return runInstances(ctx, o, root, tmp, bin, wrkBin, up, upURL)
	}
	if o.lean {
		return runLean(ctx, o, root, tmp, bin, wrkBin, up, upURL)
	}
	proxy, proxyAddr, err := startHelper("proxy", "-upstream", upURL)
	if err != nil {
		return err
	}
	defer proxy.stop()
	strataEnv := o.strataEnv
	if o.auth {
		strataEnv = append(strataEnv[:len(strataEnv):len(strataEnv)], "STRATA_MASTER_KEY="+benchMasterKey)
	}
	st, err := startStrata(bin, tmp, upURL, o.strataArgs, strataEnv)
	if err != nil {
		return err
	}
	defer st.stop()
	if o.auth {
		if apiKey, err = generateKey(ctx, st.url); err != nil {
			return err
		}
		logf("authentication on: every request carries a virtual key")
	}
	logf("upstream %s, strata %s (pid %d, profiles at %s)", upURL, st.url, st.pid(), st.pprofURL)

	bodies, err := writeBodies(tmp)
	if err != nil {
		return err
	}
	wrk, err := newWrkRunner(wrkBin, tmp, o.wrkThreads)
	if err != nil {
		return err
	}
	b := &bench{o: o, root: root, up: up, upURL: upURL, proxy: proxy, proxyURL: "http://" + proxyAddr, st: st, wrk: wrk, bodies: bodies}
	b.res.Start = time.Now().UTC()
	busy0, total0 := machineCPU()
	ours0 := b.ourCPU()

	if err := b.runAll(ctx); err != nil {
		return err
	}

	busy1, total1 := machineCPU()
	b.res.Machine = machineInfo(busy1-busy0, total1-total0, b.ourCPU()-ours0+b.wrkCPU)
	b.res.Elapsed = time.Since(b.res.Start).Round(time.Second).String()
	b.res.Targets = evaluate(&b.res)

	printTable(os.Stdout, &b.res)
	path, err := saveJSON(outDir(root, o.out), b.res.Start.Format("20060102-150405"), &b.res)
	if err != nil {
		return err
	}
	fmt.Printf("\nresults: %s\n", path)
	return nil
}

// bodies are the request bodies, as files for wrk and bytes for Go.
type bodies struct {
	chat, converse         []byte // the OpenAI body and its Converse translation
	chatStream, chatPaced  []byte
	chatSlow               []byte
	chatPath, conversePath string
}

// chatBody is a short chat request of the usual shape: a system prompt, a
// user turn and a few parameters.
func chatBody(model string, stream bool) []byte {
	req := map[string]any{
		"model": model,
		"messages": []map[string]string{
			{"role": "system", "content": "You are a helpful assistant."},
			{"role": "user", "content": "this is a test request, write a short poem about the sea and the sky"},
		},
		"temperature": 0.7,
		"max_tokens":  300,
	}
	if stream {
		req["stream"] = true
		req["stream_options"] = map[string]bool{"include_usage": true}
	}
	b, _ := json.Marshal(req)
	return b
}

func writeBodies(dir string) (*bodies, error) {
	b := &bodies{
		chat:       chatBody(modelFast, false),
		chatStream: chatBody(modelFast, true),
		chatPaced:  chatBody(modelPaced, true),
		chatSlow:   chatBody(modelSlow, true),
	}
	// The direct load sends exactly what Strata sends upstream.
	var req openai.ChatRequest
	if err := json.Unmarshal(b.chat, &req); err != nil {
		return nil, err
	}
	target, err := translate.NewChatTarget("anthropic.claude-3-5-sonnet-20240620-v1:0", nil, false)
	if err != nil {
		return nil, err
	}
	call, err := translate.ConverseFromChat(&req, target)
	if err != nil {
		return nil, err
	}
	if b.converse, err = json.Marshal(call.Request); err != nil {
		return nil, err
	}
	b.chatPath = filepath.Join(dir, "chat.json")
	b.conversePath = filepath.Join(dir, "converse.json")
	if err := os.WriteFile(b.chatPath, b.chat, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(b.conversePath, b.converse, 0o600); err != nil {
		return nil, err
	}
	return b, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
