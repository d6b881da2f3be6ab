// Command bodies measures what large request bodies cost the gateway: the
// strata binary's peak resident memory while many clients send large
// bodies at once, read from /proc. Run it from the repository:
//
//	go run ./bench/bodies -strata ./strata
//
// Each scenario starts a fresh strata (so its peak is its own) in front of
// the Bedrock emulator, runs the clients at once, and reports the answers'
// statuses and strata's peak RSS (VmHWM).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/strata-gateway/strata/internal/emulator"
)

func main() {
	strata := flag.String("strata", "./strata", "the strata binary to measure")
	flag.Parse()
	if err := run(*strata); err != nil {
		fmt.Fprintln(os.Stderr, "bodies:", err)
		os.Exit(1)
	}
}

type scenario struct {
	name    string
	clients int
	send    func(addr string) (int, error)
}

func run(bin string) error {
	em := emulator.New(emulator.Options{SkipAuth: true})
	upstream := httptest.NewServer(em)
	defer upstream.Close()
	dir, err := os.MkdirTemp("", "strata-bodies")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`model_list:
  - model_name: claude
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_access_key_id: AKIAIOSFODNN7EXAMPLE
      aws_secret_access_key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
      aws_region_name: us-east-1
      aws_bedrock_runtime_endpoint: %s
`, upstream.URL)), 0o600); err != nil {
		return err
	}
	vision := visionBody(8 << 20)
	scenarios := []scenario{
		{"16 x 40 MB, Content-Length", 16, func(addr string) (int, error) { return rawBody(addr, 40<<20, false) }},
		{"16 x 40 MB, chunked", 16, func(addr string) (int, error) { return rawBody(addr, 40<<20, true) }},
		{"64 x 8 MB vision requests", 64, func(addr string) (int, error) { return post(addr, vision) }},
	}
	fmt.Printf("strata: %s\n", bin)
	for _, sc := range scenarios {
		if err := measure(bin, cfg, dir, sc); err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
	}
	return nil
}

func measure(bin, cfg, dir string, sc scenario) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config", cfg, "--host", "127.0.0.1", "--port", "0", "--log-format", "json", "--log-level", "info")
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	addr, err := listeningAddr(stderr)
	if err != nil {
		return err
	}
	go io.Copy(io.Discard, stderr)
	before := vmHWM(cmd.Process.Pid)
	statuses := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range sc.clients {
		wg.Go(func() {
			status, err := sc.send(addr)
			if err != nil {
				status = -1
			}
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	alive := cmd.ProcessState == nil && post200(addr)
	fmt.Printf("%-30s statuses %-22s peak RSS %4d MB (idle %d MB)  %.1fs  alive after: %v\n",
		sc.name, formatStatuses(statuses), vmHWM(cmd.Process.Pid)>>10, before>>10, time.Since(start).Seconds(), alive)
	return nil
}

func listeningAddr(stderr io.Reader) (string, error) {
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		var rec struct{ Msg, URL string }
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "strata listening" {
			return strings.TrimPrefix(rec.URL, "http://"), nil
		}
	}
	return "", fmt.Errorf("strata did not start")
}

// rawBody sends a chat request head and size bytes of body, declared or
// chunked, while reading the answer; it returns the answer's status.
func rawBody(addr string, size int, chunked bool) (int, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Minute))
	framing := fmt.Sprintf("Content-Length: %d", size)
	if chunked {
		framing = "Transfer-Encoding: chunked"
	}
	go func() {
		fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: strata\r\nContent-Type: application/json\r\n%s\r\n\r\n", framing)
		chunk := bytes.Repeat([]byte("x"), 256<<10)
		for sent := 0; sent < size; sent += len(chunk) {
			var err error
			if chunked {
				_, err = fmt.Fprintf(conn, "%x\r\n%s\r\n", len(chunk), chunk)
			} else {
				_, err = conn.Write(chunk)
			}
			if err != nil {
				return
			}
		}
		if chunked {
			io.WriteString(conn, "0\r\n\r\n")
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// visionBody is a chat request with one inline PNG of about size bytes.
func visionBody(size int) []byte {
	img := make([]byte, size*3/4)
	copy(img, "\x89PNG\r\n\x1a\n")
	r := rand.New(rand.NewPCG(1, 2))
	for i := 8; i < len(img); i++ {
		img[i] = byte(r.Uint32())
	}
	body, _ := json.Marshal(map[string]any{
		"model": "claude",
		"messages": []any{map[string]any{"role": "user", "content": []any{
			map[string]any{"type": "text", "text": "what is in this image?"},
			map[string]any{"type": "image_url", "image_url": map[string]any{"url": "data:image/png;base64," + base64.StdEncoding.EncodeToString(img)}},
		}}},
	})
	return body
}

func post(addr string, body []byte) (int, error) {
	resp, err := http.Post("http://"+addr+"/v1/chat/completions", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func post200(addr string) bool {
	status, err := post(addr, []byte(`{"model":"claude","messages":[{"role":"user","content":"still there?"}]}`))
	return err == nil && status == http.StatusOK
}

// vmHWM is a process's peak resident set size in kB.
func vmHWM(pid int) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb
		}
	}
	return 0
}

func formatStatuses(m map[int]int) string {
	var keys []int
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d:%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}
