package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/emulator"
)

// abuseConfig is the seed's config with general_settings lines added.
func abuseConfig(endpoint string, settings ...string) string {
	cfg := seedConfig(endpoint)
	if len(settings) > 0 {
		cfg += "general_settings:\n  " + strings.Join(settings, "\n  ") + "\n"
	}
	return cfg
}

// dial opens a raw connection to the gateway, for requests no well-behaved
// client would send.
func (g *gateway) dial(t *testing.T) net.Conn {
	t.Helper()
	u, err := url.Parse(g.URL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// Nothing here waits on a gateway that stopped answering for long.
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	return conn
}

// chatHead is the head of a chat request with the given extra header lines.
func chatHead(headers ...string) string {
	return "POST /v1/chat/completions HTTP/1.1\r\nHost: strata\r\nContent-Type: application/json\r\n" +
		strings.Join(append(headers, ""), "\r\n") + "\r\n"
}

// readAnswer reads one response off conn and its whole body.
func readAnswer(t *testing.T, br *bufio.Reader) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("answer body: %v", err)
	}
	return resp, body
}

// assertClosed checks that the gateway closed conn after its answer.
func assertClosed(t *testing.T, conn net.Conn, br *bufio.Reader) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := br.Read(make([]byte, 1)); err == nil || n > 0 || os.IsTimeout(err) {
		t.Errorf("the connection is still open after the answer (read %d bytes, %v)", n, err)
	}
}

func errorCode(t *testing.T, raw []byte) string {
	t.Helper()
	_, _, _, code := errorBody(t, raw)
	if code == nil {
		return ""
	}
	return *code
}

// noErrorLines fails if the gateway logged anything at ERROR.
func noErrorLines(t *testing.T, g *gateway) {
	t.Helper()
	for _, rec := range logRecords(g) {
		if rec["level"] == "ERROR" {
			raw, _ := json.Marshal(rec)
			t.Errorf("logged at ERROR: %s", raw)
		}
	}
}

// A declared Content-Length over the limit is refused at once, before any
// of the body is sent: the client that asked for "100 Continue" is told 413
// instead, and the connection is closed.
func TestBodyDeclaredTooLarge(t *testing.T) {
	_, endpoint := bedrockEmulator(t)
	g := startGateway(t, abuseConfig(endpoint), seedEnv...)

	for _, expect := range []bool{true, false} {
		t.Run(fmt.Sprintf("expect=%v", expect), func(t *testing.T) {
			conn := g.dial(t)
			headers := []string{"Content-Length: 52428800"}
			if expect {
				headers = append(headers, "Expect: 100-continue")
			}
			if _, err := io.WriteString(conn, chatHead(headers...)); err != nil {
				t.Fatal(err)
			}
			// Not a byte of the body is sent: the answer must come anyway.
			br := bufio.NewReader(conn)
			resp, body := readAnswer(t, br)
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, want 413 before the body (%s)", resp.StatusCode, body)
			}
			if code := errorCode(t, body); code != "request_too_large" {
				t.Errorf("code %q, want request_too_large", code)
			}
			assertClosed(t, conn, br)
		})
	}
}

// An undeclared (chunked) body is cut at the limit: the gateway answers 413
// while the client is still sending, and stops reading.
func TestBodyChunkedCutAtLimit(t *testing.T) {
	_, endpoint := bedrockEmulator(t)
	g := startGateway(t, abuseConfig(endpoint, "max_request_size_mb: 1"), seedEnv...)

	conn := g.dial(t)
	sent := make(chan int64, 1)
	go func() {
		var n int64
		defer func() { sent <- n }()
		if _, err := io.WriteString(conn, chatHead("Transfer-Encoding: chunked")); err != nil {
			return
		}
		chunk := fmt.Sprintf("%x\r\n%s\r\n", 64<<10, bytes.Repeat([]byte("x"), 64<<10))
		for n < 512<<20 {
			if _, err := io.WriteString(conn, chunk); err != nil {
				return
			}
			n += 64 << 10
		}
	}()
	br := bufio.NewReader(conn)
	resp, body := readAnswer(t, br)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413 (%s)", resp.StatusCode, body)
	}
	assertClosed(t, conn, br)
	conn.Close()
	if n := <-sent; n >= 512<<20 {
		t.Errorf("the gateway read all %d bytes of an oversized body", n)
	}
}

// vmHWM reads a process's peak resident set size from /proc.
func vmHWM(t *testing.T, pid int) string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// Many large bodies at once, declared or not, are each answered 413 or 503
// while the gateway stays up and serving.
func TestConcurrentBigBodies(t *testing.T) {
	_, endpoint := bedrockEmulator(t)
	g := startGateway(t, abuseConfig(endpoint, "max_request_bodies_in_flight_mb: 96"), seedEnv...)

	const clients, size = 16, 40 << 20
	chunk := bytes.Repeat([]byte("x"), 256<<10)
	for _, chunked := range []bool{false, true} {
		var wg sync.WaitGroup
		statuses := make(chan int, clients)
		for range clients {
			wg.Go(func() {
				conn := g.dial(t)
				head := chatHead(fmt.Sprintf("Content-Length: %d", size))
				if chunked {
					head = chatHead("Transfer-Encoding: chunked")
				}
				go func() {
					if _, err := io.WriteString(conn, head); err != nil {
						return
					}
					for sent := 0; sent < size; sent += len(chunk) {
						if chunked {
							if _, err := fmt.Fprintf(conn, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
								return
							}
						} else if _, err := conn.Write(chunk); err != nil {
							return
						}
					}
				}()
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					t.Errorf("chunked=%v: no answer: %v", chunked, err)
					return
				}
				resp.Body.Close()
				conn.Close()
				statuses <- resp.StatusCode
			})
		}
		wg.Wait()
		close(statuses)
		counts := map[int]int{}
		for s := range statuses {
			counts[s]++
			if s != http.StatusRequestEntityTooLarge && s != http.StatusServiceUnavailable {
				t.Errorf("chunked=%v: status %d, want 413 or 503", chunked, s)
			}
		}
		t.Logf("chunked=%v: %d bodies of %d MB at once: statuses %v; peak RSS %s", chunked, clients, size>>20, counts, vmHWM(t, g.cmd.Process.Pid))
	}
	chatOK(t, g)
	noErrorLines(t, g)
}

// A body the client breaks is its own fault: 400, logged below ERROR, and
// counted as refused, never as a 5xx.
func TestBrokenUploads(t *testing.T) {
	_, endpoint := bedrockEmulator(t)
	g := startGateway(t, abuseConfig(endpoint), seedEnv...)

	cases := []struct {
		name, head, body string
		code             string
	}{
		{"malformed chunked", chatHead("Transfer-Encoding: chunked"), "zz\r\n{}\r\n0\r\n\r\n", "unreadable_body"},
		{"truncated chunked", chatHead("Transfer-Encoding: chunked"), "20\r\n{\"model\":\"bedrock-claude\",", "incomplete_body"},
		{"truncated declared", chatHead("Content-Length: 100"), `{"model":"bedrock-claude",`, "incomplete_body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn := g.dial(t)
			if _, err := io.WriteString(conn, c.head+c.body); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(c.name, "malformed") {
				// The client stops sending but waits for the answer.
				_ = conn.(*net.TCPConn).CloseWrite()
			}
			br := bufio.NewReader(conn)
			resp, body := readAnswer(t, br)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400 (%s)", resp.StatusCode, body)
			}
			if code := errorCode(t, body); code != c.code {
				t.Errorf("code %q, want %q", code, c.code)
			}
		})
	}
	t.Run("abandoned", func(t *testing.T) {
		conn := g.dial(t)
		if _, err := io.WriteString(conn, chatHead("Content-Length: 1000")+`{"model":`); err != nil {
			t.Fatal(err)
		}
		conn.Close()
	})

	chatOK(t, g)
	metrics := scrape(t, g)
	for _, reason := range []string{"unreadable_body", "incomplete_body"} {
		if metrics.value(t, "strata_refused_requests_total", "reason", reason) == 0 {
			t.Errorf("metrics do not count %s: %v", reason, metrics)
		}
	}
	g.stop(t)
	noErrorLines(t, g)
	var refused int
	for _, rec := range logRecords(g) {
		if rec["msg"] == "request" && rec["path"] == "/v1/chat/completions" {
			if status, _ := rec["status"].(float64); status >= 500 {
				t.Errorf("access log has a %v for a broken upload", status)
			} else if status == 400 {
				refused++
			}
		}
	}
	if refused != len(cases)+1 {
		t.Errorf("%d broken uploads logged as 400, want %d", refused, len(cases)+1)
	}
}

// chatOK sends one ordinary chat request and checks its answer.
func chatOK(t *testing.T, g *gateway) {
	t.Helper()
	status, raw, _ := g.post(t, "/v1/chat/completions", `{"model":"bedrock-claude","messages":[{"role":"user","content":"still there?"}]}`)
	if status != http.StatusOK || !strings.Contains(string(raw), "echo: still there?") {
		t.Fatalf("an ordinary request got %d: %s", status, raw)
	}
}

// Clients that send their headers and then drip their body are each
// answered 408 and cut off when the body deadline passes, while ordinary
// requests keep being served.
func TestDrippingBodiesCutAtDeadline(t *testing.T) {
	_, endpoint := bedrockEmulator(t)
	g := startGateway(t, abuseConfig(endpoint, "request_body_timeout: 2"), seedEnv...)

	const drippers = 500
	start := time.Now()
	chatOK(t, g)
	t.Logf("an ordinary request alone: %v", time.Since(start))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	results := make(chan string, drippers)
	for range drippers {
		conn := g.dial(t)
		if _, err := io.WriteString(conn, chatHead("Content-Length: 1000")+`{"model":"bedrock-claude",`); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			// A byte every 100 ms: each read succeeds, the whole body never arrives.
			go func() {
				tick := time.NewTicker(100 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if _, err := conn.Write([]byte(" ")); err != nil {
							return
						}
					}
				}
			}()
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				results <- "no answer: " + err.Error()
				return
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), `"request_timeout"`) {
				results <- fmt.Sprintf("status %d: %s", resp.StatusCode, body)
				return
			}
			_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			if _, err := br.ReadByte(); err == nil || os.IsTimeout(err) {
				results <- "the connection stayed open after the 408"
				return
			}
			results <- ""
		})
	}
	// Ordinary requests are served while the drippers hold their connections.
	for range 10 {
		start := time.Now()
		chatOK(t, g)
		t.Logf("an ordinary request among %d dripping clients: %v", drippers, time.Since(start))
	}
	wg.Wait()
	close(stop)
	close(results)
	failed := 0
	for r := range results {
		if r != "" {
			if failed++; failed <= 5 {
				t.Error(r)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d dripping clients were not cut off with a 408", failed, drippers)
	}
	chatOK(t, g)
	if got := scrape(t, g).value(t, "strata_refused_requests_total", "reason", "request_timeout"); got != drippers {
		t.Errorf("strata_refused_requests_total{reason=request_timeout} = %v, want %d", got, drippers)
	}
	noErrorLines(t, g)
}

// Above global_max_parallel_requests, requests are answered 503 with
// Retry-After at once; health routes are still answered; once requests in
// flight end, new ones are served again.
func TestInFlightBoundSheds(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, abuseConfig(endpoint, "global_max_parallel_requests: 3"), seedEnv...)
	em.Fault(emulator.Fault{Kind: emulator.FaultStreamStall, AfterEvents: 2, Delay: time.Minute, Times: 3})

	var holds []*http.Response
	for range 3 {
		req, err := http.NewRequest(http.MethodPost, g.URL+"/v1/chat/completions",
			strings.NewReader(`{"model":"bedrock-claude","stream":true,"messages":[{"role":"user","content":"take your time"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("stream: %v %v", resp, err)
		}
		holds = append(holds, resp)
	}
	status, raw, header := g.post(t, "/v1/chat/completions", `{"model":"bedrock-claude","messages":[{"role":"user","content":"me too"}]}`)
	if status != http.StatusServiceUnavailable || header.Get("Retry-After") == "" {
		t.Fatalf("over the bound: %d, Retry-After %q (%s); want 503 with Retry-After", status, header.Get("Retry-After"), raw)
	}
	if code := errorCode(t, raw); code != "gateway_overloaded" {
		t.Errorf("code %q, want gateway_overloaded", code)
	}
	for _, path := range []string{"/health/readiness", "/health/liveliness", "/metrics"} {
		resp, err := http.Get(g.URL + path)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s over the bound: %v %v", path, resp, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
	if got := scrape(t, g).value(t, "strata_refused_requests_total", "reason", "in_flight"); got != 1 {
		t.Errorf("strata_refused_requests_total{reason=in_flight} = %v, want 1", got)
	}

	for _, resp := range holds {
		resp.Body.Close()
	}
	// The streams' ends reach the gateway in their own time.
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, raw, _ := g.post(t, "/v1/chat/completions", `{"model":"bedrock-claude","messages":[{"role":"user","content":"now?"}]}`)
		if status == http.StatusOK {
			break
		}
		if status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("after the streams ended: %d %s", status, raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
	noErrorLines(t, g)
}

// SIGHUP, which log rotators and `systemctl reload` send, is logged and
// leaves the gateway serving.
func TestSIGHUPKeepsServing(t *testing.T) {
	_, endpoint := bedrockEmulator(t)
	g := startGateway(t, abuseConfig(endpoint), seedEnv...)

	for range 2 {
		if err := g.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		chatOK(t, g)
	}
	waitForLog(t, g, "SIGHUP received")
	select {
	case err := <-g.done:
		t.Fatalf("strata exited on SIGHUP: %v", err)
	default:
	}
	chatOK(t, g)
}

// A client that stops reading a stream is cut once a write has waited
// stream_write_timeout, and its Bedrock call is cancelled; other streams
// carry on.
func TestStalledStreamReaderCut(t *testing.T) {
	em, endpoint, cancelled := watchedEmulator(t)
	g := startGateway(t, abuseConfig(endpoint, "stream_write_timeout: 1"), seedEnv...)
	// Far more than socket buffers hold, then Bedrock holds the stream open.
	long := strings.Repeat("word ", 200000)
	em.Script(emulator.Script{Response: bedrock.ConverseResponse{
		Output:     bedrock.ConverseOutput{Message: &bedrock.Message{Role: "assistant", Content: []bedrock.ContentBlock{{Text: &long}}}},
		StopReason: "end_turn",
	}})
	em.Fault(emulator.Fault{Kind: emulator.FaultStreamStall, AfterEvents: 150000})

	conn := g.dial(t)
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	body := `{"model":"bedrock-claude","stream":true,"messages":[{"role":"user","content":"a long one"}]}`
	if _, err := io.WriteString(conn, chatHead(fmt.Sprintf("Content-Length: %d", len(body)))+body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %v %v", resp, err)
	}
	// The client reads nothing more.

	// Another stream is served meanwhile.
	client := g.client()
	s := client.Chat.Completions.NewStreaming(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model:    "bedrock-claude",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("short one")},
	})
	var got strings.Builder
	for s.Next() {
		if c := s.Current(); len(c.Choices) > 0 {
			got.WriteString(c.Choices[0].Delta.Content)
		}
	}
	if s.Err() != nil || got.String() != "echo: short one" {
		t.Errorf("the other stream got %q, %v", got.String(), s.Err())
	}

	select {
	case <-cancelled:
	case <-time.After(30 * time.Second):
		t.Fatal("the stalled stream's Bedrock call was never cancelled")
	}
	waitForLog(t, g, "client stopped reading the stream")
	noErrorLines(t, g)
}

// watchedEmulator is bedrockEmulator with a channel that receives once for
// every call the gateway gave up on (closed its connection) before the
// emulator had answered it whole.
func watchedEmulator(t *testing.T) (*emulator.Emulator, string, <-chan struct{}) {
	t.Helper()
	em := emulator.New(emulator.Options{
		Keys:   map[string]emulator.Key{testAccessKey: {Secret: testSecretKey}},
		Region: testRegion,
	})
	cancelled := make(chan struct{}, 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		em.ServeHTTP(w, r)
		if r.Context().Err() != nil {
			cancelled <- struct{}{}
		}
	}))
	t.Cleanup(srv.Close)
	return em, srv.URL, cancelled
}

// A request with both Content-Length and Transfer-Encoding is refused with
// 400 and its connection closed: what follows it on the connection, which
// a proxy framing by Content-Length would take for the same request, never
// reaches a handler.
func TestRequestSmugglingRefused(t *testing.T) {
	_, endpoint := bedrockEmulator(t)
	g := startGateway(t, abuseConfig(endpoint), seedEnv...)

	body := `{"model":"bedrock-claude","messages":[{"role":"user","content":"hi"}]}`
	smuggled := "GET /v1/models?smuggled=1 HTTP/1.1\r\nHost: strata\r\n\r\n"
	cases := map[string]string{
		"both framing headers": chatHead(fmt.Sprintf("Content-Length: %d", len(body)+5), "Transfer-Encoding: chunked") +
			fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body),
		"a transfer coding other than chunked": chatHead("Transfer-Encoding: gzip, chunked") +
			fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body),
	}
	for name, request := range cases {
		t.Run(name, func(t *testing.T) {
			conn := g.dial(t)
			if _, err := io.WriteString(conn, request+smuggled); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			resp, raw := readAnswer(t, br)
			if resp.StatusCode/100 != 4 && resp.StatusCode != http.StatusNotImplemented {
				t.Fatalf("status %d, want a refusal (%s)", resp.StatusCode, raw)
			}
			if strings.HasPrefix(name, "both") {
				if resp.StatusCode != http.StatusBadRequest || errorCode(t, raw) != "ambiguous_framing" {
					t.Errorf("got %d %s, want 400 ambiguous_framing", resp.StatusCode, raw)
				}
			}
			assertClosed(t, conn, br)
		})
	}
	chatOK(t, g)
	g.stop(t)
	for _, rec := range logRecords(g) {
		if path, _ := rec["path"].(string); rec["msg"] == "request" && path == "/v1/models" {
			t.Errorf("the smuggled request reached a handler: %v", rec)
		}
	}
	noErrorLines(t, g)
}

// On SIGTERM the gateway first answers /health/readiness with 503 while
// still serving, for the drain delay; then it closes its listener. Streams
// still running at the shutdown deadline get an error event saying the
// gateway is shutting down, their Bedrock calls are cancelled, every
// request has exactly one access log line with its outcome, the cut is
// counted at WARN, and the exit status says the stop was not clean.
func TestShutdownDrainsThenCutsStreams(t *testing.T) {
	em, endpoint, cancelled := watchedEmulator(t)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(abuseConfig(endpoint, "shutdown_drain_delay: 3")), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startStrata(t, seedEnv, "--config", path, "--shutdown-timeout", "1s")
	const streams = 100
	em.Fault(emulator.Fault{Kind: emulator.FaultStreamStall, AfterEvents: 2, Times: streams}) // silent until cancelled

	bodies := make([]*bufio.Reader, streams)
	for i := range streams {
		req, err := http.NewRequest(http.MethodPost, g.URL+"/v1/chat/completions",
			strings.NewReader(`{"model":"bedrock-claude","stream":true,"messages":[{"role":"user","content":"a long story"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Request-Id", fmt.Sprintf("stream-%d", i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: %v %v", i, resp, err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		bodies[i] = bufio.NewReader(resp.Body)
	}
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Draining: not ready, still serving.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(g.URL + "/health/readiness")
		if err != nil {
			t.Fatalf("readiness while draining: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/health/readiness never answered 503 after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	chatOK(t, g)

	for i, br := range bodies {
		var last string
		for {
			line, err := br.ReadString('\n')
			if strings.HasPrefix(line, "data: ") {
				last = line
			}
			if err != nil {
				break
			}
		}
		if !strings.Contains(last, `"gateway_shutting_down"`) || strings.Contains(last, "[DONE]") {
			t.Errorf("stream %d ended with %q, want an error event saying the gateway is shutting down", i, last)
		}
	}
	var exitErr *exec.ExitError
	select {
	case err := <-g.done:
		if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
			t.Errorf("strata exited with %v after cutting streams, want status 1", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("strata did not exit")
	}
	for range streams {
		select {
		case <-cancelled:
		case <-time.After(10 * time.Second):
			t.Fatal("not every cut stream's Bedrock call was cancelled")
		}
	}

	lines := map[string]int{}
	for _, rec := range logRecords(g) {
		id, _ := rec["request_id"].(string)
		if rec["msg"] == "request" && strings.HasPrefix(id, "stream-") {
			lines[id]++
			if rec["outcome"] != "cut_by_shutdown" {
				t.Errorf("access log of %s: outcome %v, want cut_by_shutdown", id, rec["outcome"])
			}
		}
		if rec["msg"] == "shutdown cut requests still in flight at the deadline" {
			if rec["level"] != "WARN" || rec["cut_requests"] != float64(streams) {
				t.Errorf("cut summary %v, want WARN with cut_requests %d", rec, streams)
			}
		}
	}
	for i := range streams {
		if n := lines[fmt.Sprintf("stream-%d", i)]; n != 1 {
			t.Errorf("stream-%d has %d access log lines, want 1", i, n)
		}
	}
	if findLog(g, "shutdown cut requests still in flight at the deadline") == nil {
		t.Error("the cut is not logged")
	}
	noErrorLines(t, g)
}
