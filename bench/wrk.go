package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// ensureWrk installs Debian's wrk when it is missing.
func ensureWrk() (string, error) {
	if p, err := exec.LookPath("wrk"); err == nil {
		return p, nil
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "", errors.New("wrk is not installed and apt-get is not available: install wrk")
	}
	fmt.Fprintln(os.Stderr, "bench: installing wrk with apt-get")
	for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "wrk"}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("apt-get %v: %w (install wrk yourself, or run as root)", args, err)
		}
	}
	return exec.LookPath("wrk")
}

// wrkScript posts one body to every request and prints wrk's summary as a
// JSON line, which is easier to read back than its human report.
const wrkScript = `
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_API_KEY")
if key and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`

// wrkResult is one closed-loop run.
type wrkResult struct {
	Requests      int64 `json:"requests"`
	DurationUS    int64 `json:"duration_us"`
	Bytes         int64 `json:"bytes"`
	ConnectErrors int64 `json:"connect_errors"`
	ReadErrors    int64 `json:"read_errors"`
	WriteErrors   int64 `json:"write_errors"`
	StatusErrors  int64 `json:"status_errors"`
	Timeouts      int64 `json:"timeouts"`
	P50US         int64 `json:"p50_us"`
	P99US         int64 `json:"p99_us"`
	MaxUS         int64 `json:"max_us"`
	// CPUSeconds is what wrk itself used, to account for the machine's time.
	CPUSeconds float64 `json:"cpu_seconds"`
}

func (r wrkResult) rps() float64 {
	if r.DurationUS == 0 {
		return 0
	}
	return float64(r.Requests) / (float64(r.DurationUS) / 1e6)
}

func (r wrkResult) errors() int64 {
	return r.ConnectErrors + r.ReadErrors + r.WriteErrors + r.StatusErrors + r.Timeouts
}

// wrkRunner runs closed-loop loads with wrk: conns connections, each
// sending its next request as soon as the previous answer is read.
type wrkRunner struct {
	bin     string
	threads int
	script  string
}

func newWrkRunner(bin, dir string, threads int) (*wrkRunner, error) {
	script := filepath.Join(dir, "post.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o600); err != nil {
		return nil, err
	}
	return &wrkRunner{bin: bin, threads: threads, script: script}, nil
}

func (w *wrkRunner) run(ctx context.Context, url, bodyPath string, conns int, d time.Duration) (wrkResult, error) {
	return w.runWithKey(ctx, url, bodyPath, apiKey, conns, d)
}

// runWithKey is run with key as every request's API key ("" for none).
func (w *wrkRunner) runWithKey(ctx context.Context, url, bodyPath, key string, conns int, d time.Duration) (wrkResult, error) {
	threads := min(w.threads, conns)
	cmd := exec.CommandContext(ctx, w.bin,
		"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
		"-d", fmt.Sprintf("%ds", max(1, int(d.Round(time.Second).Seconds()))), "--timeout", "10s",
		"-s", w.script, url)
	cmd.Env = append(os.Environ(), "BENCH_BODY="+bodyPath, "BENCH_API_KEY="+key)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w: %s%s", err, errOut.String(), out.String())
	}
	var res wrkResult
	line := out.Bytes()
	if i := bytes.LastIndex(line, []byte("\n{")); i >= 0 {
		line = line[i+1:]
	}
	if err := json.Unmarshal(bytes.TrimSpace(line), &res); err != nil {
		return wrkResult{}, fmt.Errorf("wrk printed no summary: %w\n%s", err, out.String())
	}
	if st := cmd.ProcessState; st != nil {
		res.CPUSeconds = (st.UserTime() + st.SystemTime()).Seconds()
	}
	if res.Requests == 0 {
		return res, fmt.Errorf("wrk completed no request against %s", url)
	}
	if n := res.errors(); n > 0 {
		return res, fmt.Errorf("wrk against %s: %d of %d requests failed (connect %d, read %d, write %d, status %d, timeout %d)",
			url, n, res.Requests, res.ConnectErrors, res.ReadErrors, res.WriteErrors, res.StatusErrors, res.Timeouts)
	}
	return res, nil
}
