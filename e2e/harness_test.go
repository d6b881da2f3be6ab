// Package e2e runs Strata as users run it: the strata binary, started with
// a config file, in front of the Bedrock emulator over real sockets, called
// by the official OpenAI Go SDK. Tests assert what the client saw and what
// reached Bedrock.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/strata-gateway/strata/internal/app"
	"github.com/strata-gateway/strata/internal/emulator"
)

var strataBin string

// runGateway links the whole gateway into this test binary. The binary
// under test is built from ../cmd/strata in TestMain, out of sight of Go's
// test cache; with the code it runs linked in here, every change to the
// gateway changes this binary too, and so invalidates cached results.
var runGateway = app.Run

func TestMain(m *testing.M) {
	if runGateway == nil {
		panic("unreachable: keeps app.Run linked")
	}
	dir, err := os.MkdirTemp("", "strata-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	strataBin = filepath.Join(dir, "strata")
	build := exec.Command("go", "build", "-race", "-o", strataBin, "../cmd/strata")
	if os.Getenv("STRATA_E2E_NORACE") != "" {
		build = exec.Command("go", "build", "-o", strataBin, "../cmd/strata")
	}
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build strata:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Test credentials for the emulator. The secret must never show up in the
// gateway's output: TestSecretsNeverLogged greps for it.
const (
	testAccessKey = "AKIASTRATATESTKEY001"
	testSecretKey = "s3cr3t-strata-e2e-key-do-not-log"
	testRegion    = "us-west-2"
)

// bedrockEmulator starts the emulator on a real socket.
func bedrockEmulator(t *testing.T) (*emulator.Emulator, string) {
	t.Helper()
	em := emulator.New(emulator.Options{
		Keys:   map[string]emulator.Key{testAccessKey: {Secret: testSecretKey}},
		Region: testRegion,
	})
	srv := httptest.NewServer(em)
	t.Cleanup(srv.Close)
	return em, srv.URL
}

// gateway is a running strata process.
type gateway struct {
	URL  string
	cmd  *exec.Cmd
	logs *lockedBuffer
	done chan error
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startGateway writes config to a file and starts `strata --config` on a
// free port, with env added to the environment.
func startGateway(t *testing.T, config string, env ...string) *gateway {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return startStrata(t, env, "--config", path)
}

// startStrata starts the binary with args plus a free port and JSON logs,
// and waits until it listens.
func startStrata(t *testing.T, env []string, args ...string) *gateway {
	t.Helper()
	args = append(args, "--host", "127.0.0.1", "--port", "0", "--log-format", "json", "--log-level", "debug")
	cmd := exec.Command(strataBin, args...)
	cmd.Env = append(baseEnv(), env...)
	logs := &lockedBuffer{}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &gateway{cmd: cmd, logs: logs, done: make(chan error, 1)}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			logs.Write([]byte(line + "\n"))
			var rec struct {
				Msg string `json:"msg"`
				URL string `json:"url"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "strata listening" {
				urlc <- rec.URL
			}
		}
		g.done <- cmd.Wait()
	}()
	select {
	case g.URL = <-urlc:
	case err := <-g.done:
		t.Fatalf("strata exited before listening: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("strata did not start listening:\n%s", logs)
	}
	t.Cleanup(func() { g.stop(t) })
	return g
}

// baseEnv is the environment without AWS settings from the machine, so the
// tests see only the credentials they set.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent", "AWS_EC2_METADATA_DISABLED=true")
}

func (g *gateway) stop(t *testing.T) {
	if g.cmd.ProcessState != nil {
		return
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(40 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.done
	}
	if t.Failed() {
		t.Logf("strata output:\n%s", g.logs)
	}
}

// client is the official OpenAI SDK pointed at the gateway, with retries off
// so every call the test makes is one call to the gateway.
func (g *gateway) client(opts ...option.RequestOption) openai.Client {
	base := []option.RequestOption{option.WithBaseURL(g.URL), option.WithAPIKey("anything"), option.WithMaxRetries(0)}
	return openai.NewClient(append(base, opts...)...)
}

// post sends a raw JSON body, as curl would.
func (g *gateway) post(t *testing.T, path, body string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, g.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, raw, resp.Header
}

// errorBody decodes an OpenAI error body and checks its shape.
func errorBody(t *testing.T, raw []byte) (message, typ string, param, code *string) {
	t.Helper()
	var body struct {
		Error *struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || body.Error == nil {
		t.Fatalf("not an OpenAI error body: %s", raw)
	}
	var keys map[string]map[string]json.RawMessage
	_ = json.Unmarshal(raw, &keys)
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := keys["error"][k]; !ok {
			t.Errorf("error body lacks %q: %s", k, raw)
		}
	}
	return body.Error.Message, body.Error.Type, body.Error.Param, body.Error.Code
}

// seedConfig is the seed's config: credentials from custom env var names.
func seedConfig(endpoint string) string {
	return fmt.Sprintf(`model_list:
  - model_name: bedrock-claude
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
      aws_bedrock_runtime_endpoint: %s
      temperature: 0.2
      top_k: 1
`, endpoint)
}

var seedEnv = []string{
	"CUSTOM_AWS_ACCESS_KEY_ID=" + testAccessKey,
	"CUSTOM_AWS_SECRET_ACCESS_KEY=" + testSecretKey,
	"CUSTOM_AWS_REGION_NAME=" + testRegion,
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// lastCall returns the emulator's last recorded call.
func lastCall(t *testing.T, em *emulator.Emulator) emulator.Call {
	t.Helper()
	calls := em.Calls()
	if len(calls) == 0 {
		t.Fatal("the emulator received no call")
	}
	return calls[len(calls)-1]
}
