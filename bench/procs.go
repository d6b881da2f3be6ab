package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is a child the bench started: the upstream or Strata.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits, then kills what is left.
func (p *process) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func start(name string, cmd *exec.Cmd) (*process, error) {
	// The child dies with the bench, even if the bench is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// startHelper runs this program again as the upstream or the reference
// proxy and returns its address. Its standard input is a pipe the bench
// holds open: when the bench exits, the helper does too.
func startHelper(args ...string) (*process, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(self, args...)
	if _, err := cmd.StdinPipe(); err != nil {
		return nil, "", err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = os.Stderr
	p, err := start(args[0], cmd)
	if err != nil {
		return nil, "", err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		p.stop()
		return nil, "", fmt.Errorf("%s did not report its address: %w", args[0], err)
	}
	return p, strings.TrimSpace(line), nil
}

// moduleRoot finds the directory of go.mod, so the bench runs from anywhere
// inside the repository.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run the bench inside the strata repository")
	}
	return filepath.Dir(gomod), nil
}

// buildStrata builds the strata binary as a user would.
func buildStrata(root, dir string) (string, error) {
	bin := filepath.Join(dir, "strata")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/strata")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/strata: %w", err)
	}
	return bin, nil
}

// strataConfig is a LiteLLM-format config with one model per upstream
// behaviour. The credentials are AWS's documented example pair: Strata
// signs every call with them; the upstream does not check.
func strataConfig(upstreamURL string) string { return strataConfigWith(upstreamURL, "") }

// strataConfigWith is strataConfig with more litellm_params lines (each
// indented and ending in a newline) on every deployment.
func strataConfigWith(upstreamURL, params string) string {
	var b strings.Builder
	b.WriteString("model_list:\n")
	for _, id := range []string{modelFast, modelPaced, modelSlow} {
		fmt.Fprintf(&b, `  - model_name: %s
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
      model_id: %s
      aws_access_key_id: AKIAIOSFODNN7EXAMPLE
      aws_secret_access_key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
      aws_region_name: us-east-1
      aws_bedrock_runtime_endpoint: %s
`, id, id, upstreamURL)
		b.WriteString(params)
	}
	return b.String()
}

// strataProcess is the running gateway and where to reach it.
type strataProcess struct {
	*process
	url      string // base URL of the OpenAI API
	pprofURL string // base URL of /debug/pprof/
	logPath  string
}

// startStrata starts the binary with its log going straight to a file (no
// pipe through the bench, whose CPU would then count against the run) and
// waits until it answers. Its ports are picked here, so that the log level
// is the user's to choose.
func startStrata(bin, dir, upstreamURL string, extraArgs, extraEnv []string) (*strataProcess, error) {
	return startStrataConfig(bin, dir, strataConfig(upstreamURL), extraArgs, extraEnv)
}

// startStrataConfig is startStrata with the whole config file given.
func startStrataConfig(bin, dir, config string, extraArgs, extraEnv []string) (*strataProcess, error) {
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	pprofPort, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "strata.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	args := append([]string{"--config", cfg, "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--pprof-addr", "127.0.0.1:" + strconv.Itoa(pprofPort)}, extraArgs...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	p, err := start("strata", cmd)
	if err != nil {
		return nil, err
	}
	s := &strataProcess{
		process:  p,
		url:      "http://127.0.0.1:" + strconv.Itoa(port),
		pprofURL: "http://127.0.0.1:" + strconv.Itoa(pprofPort) + "/debug/pprof/",
		logPath:  logPath,
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(s.url + "/health/liveliness")
		if err == nil {
			resp.Body.Close()
			if _, err := s.goroutines(context.Background()); err == nil {
				return s, nil
			}
		}
		select {
		case <-p.done:
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("strata exited at startup:\n%s", log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, errors.New("strata did not answer within 15s (see " + logPath + ")")
		}
	}
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// goroutineCount is Strata's goroutines, and how many of them belong to
// idle upstream connections kept for reuse (two each), which come and go
// with the pool and are bounded by it.
type goroutineCount struct {
	Total  int `json:"total"`
	Pooled int `json:"pooled_connections"`
}

// working is every goroutine but the pooled connections': what a leak
// would grow.
func (g goroutineCount) working() int { return g.Total - g.Pooled }

// goroutines reads the goroutine profile from the pprof endpoint.
func (s *strataProcess) goroutines(ctx context.Context) (goroutineCount, error) {
	var g goroutineCount
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.pprofURL+"goroutine?debug=1", nil)
	if err != nil {
		return g, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return g, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if !sc.Scan() {
		return g, fmt.Errorf("empty goroutine profile: %v", sc.Err())
	}
	_, total, ok := strings.Cut(strings.TrimSpace(sc.Text()), "total ")
	if !ok {
		return g, fmt.Errorf("unexpected goroutine profile header %q", sc.Text())
	}
	if g.Total, err = strconv.Atoi(total); err != nil {
		return g, err
	}
	// Groups of identical stacks: "N @ 0x...", then "#\t0x... function ..." lines.
	group, pooled := 0, false
	flush := func() {
		if pooled {
			g.Pooled += group
		}
		group, pooled = 0, false
	}
	for sc.Scan() {
		line := sc.Text()
		if n, _, ok := strings.Cut(line, " @ "); ok && !strings.HasPrefix(line, "#") {
			flush()
			group, _ = strconv.Atoi(n)
			continue
		}
		if strings.Contains(line, "net/http.(*persistConn).readLoop") || strings.Contains(line, "net/http.(*persistConn).writeLoop") {
			pooled = true
		}
	}
	flush()
	return g, sc.Err()
}

// cpuProfile records a CPU profile of Strata for d into path.
func (s *strataProcess) cpuProfile(ctx context.Context, d time.Duration, path string) error {
	url := fmt.Sprintf("%sprofile?seconds=%d", s.pprofURL, int(d.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// rssBytes reads VmRSS of a process.
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS in /proc/status")
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
var clockTicks = func() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		return 100
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil || n <= 0 {
		return 100
	}
	return n
}()

// cpuSeconds is a process's user+system CPU time so far.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; fields are counted after its ")".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("short /proc/stat")
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return (ut + st) / clockTicks, nil
}

// machineCPU reads the whole machine's busy and total CPU time from
// /proc/stat, in seconds, to tell how much the other tenants used.
func machineCPU() (busy, total float64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0
	}
	for i, v := range f[1:] {
		n, _ := strconv.ParseFloat(v, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy / clockTicks, total / clockTicks
}
