package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/emulator"
)

// codexEnv names the codex binary scripts/test installs from npm.
const codexEnv = "STRATA_TEST_CODEX"

// The real Codex CLI, which speaks only the Responses API, completes a
// session against the gateway: it runs the shell command the model asks
// for, calls a namespaced multi-agent tool, sends the reasoning item back
// with its encrypted_content, and prints the model's final answer.
func TestCodexExec(t *testing.T) {
	codex := os.Getenv(codexEnv)
	if codex == "" {
		t.Fatalf("%s is not set: run the tests with scripts/test, which installs @openai/codex", codexEnv)
	}
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, seedConfig(endpoint), seedEnv...)

	marker := "strata-codex-" + fmt.Sprint(time.Now().UnixNano()%1e6)
	em.Script(emulator.Script{Response: toolUseAnswer(
		bedrock.ContentBlock{ReasoningContent: &bedrock.ReasoningContent{ReasoningText: &bedrock.ReasoningText{Text: "Run the command first.", Signature: "sig-codex-1"}}},
		toolUse("tooluse_exec1", "exec_command", `{"cmd":"echo `+marker+`"}`),
	)})
	em.Script(emulator.Script{Response: toolUseAnswer(
		toolUse("tooluse_ns1", "multi_agent_v1__close_agent", `{"target":"no-such-agent"}`),
	)})
	final := "The command printed " + marker + "."
	em.Script(emulator.Script{Response: bedrock.ConverseResponse{
		Output:     bedrock.ConverseOutput{Message: &bedrock.Message{Role: "assistant", Content: []bedrock.ContentBlock{{Text: &final}}}},
		StopReason: "end_turn",
		Usage:      bedrock.TokenUsage{InputTokens: 50, OutputTokens: 6, TotalTokens: 56},
	}})

	home := t.TempDir()
	work := t.TempDir()
	config := fmt.Sprintf(`model = "bedrock-claude"
model_provider = "strata"
model_reasoning_effort = "low"
check_for_update_on_startup = false

[analytics]
enabled = false

[model_providers.strata]
name = "Strata"
base_url = "%s/v1"
env_key = "STRATA_API_KEY"
wire_api = "responses"
`, g.URL)
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	// Anything Codex tries beyond loopback goes to a proxy that refuses it.
	proxy := refusingProxy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, codex, "exec", "--json", "--skip-git-repo-check",
		"--dangerously-bypass-approvals-and-sandbox", "-C", work, "Print the marker with echo.")
	cmd.Env = append(baseEnv(), "CODEX_HOME="+home, "HOME="+home, "STRATA_API_KEY=sk-anything",
		"HTTPS_PROXY="+proxy.url, "HTTP_PROXY="+proxy.url, "ALL_PROXY="+proxy.url,
		"https_proxy="+proxy.url, "http_proxy="+proxy.url, "all_proxy="+proxy.url,
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("hosts Codex tried beyond loopback (refused): %v", proxy.hosts())
	if err != nil {
		t.Fatalf("codex exec: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}

	// What Codex saw: the command it ran, and the final answer.
	var ranCommand, answered bool
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct {
			Type string `json:"type"`
			Item struct {
				Type             string `json:"type"`
				Text             string `json:"text"`
				Command          string `json:"command"`
				AggregatedOutput string `json:"aggregated_output"`
			} `json:"item"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Type != "item.completed" {
			continue
		}
		switch ev.Item.Type {
		case "command_execution":
			ranCommand = ranCommand || strings.Contains(ev.Item.AggregatedOutput, marker)
		case "agent_message":
			answered = answered || ev.Item.Text == final
		}
	}
	if !ranCommand || !answered {
		t.Fatalf("ran the command: %v, gave the final answer: %v\nstdout:\n%s\nstderr:\n%s", ranCommand, answered, stdout.String(), stderr.String())
	}

	// What reached Bedrock: three turns of one session, each carrying the last.
	var calls []emulator.Call
	for _, c := range em.Calls() {
		if c.Converse != nil {
			calls = append(calls, c)
		}
	}
	if len(calls) != 3 {
		t.Fatalf("Bedrock got %d calls, want 3", len(calls))
	}
	first := calls[0].Converse
	if calls[0].Operation != "ConverseStream" || !strings.Contains(string(first.AdditionalModelRequestFields), `"thinking"`) {
		t.Errorf("first call: %s with %s", calls[0].Operation, first.AdditionalModelRequestFields)
	}
	offered := map[string]bool{}
	for _, tool := range first.ToolConfig.Tools {
		if tool.ToolSpec != nil {
			offered[tool.ToolSpec.Name] = true
		}
	}
	if !offered["exec_command"] || !offered["multi_agent_v1__spawn_agent"] || !offered["multi_agent_v1__close_agent"] || offered["web_search"] {
		t.Errorf("tools offered to Bedrock: %v", offered)
	}
	second := calls[1].Converse
	turn, results := lastTurns(second.Messages)
	if len(turn.Content) < 2 || turn.Content[0].ReasoningContent == nil || turn.Content[0].ReasoningContent.ReasoningText.Signature != "sig-codex-1" ||
		turn.Content[len(turn.Content)-1].ToolUse == nil || turn.Content[len(turn.Content)-1].ToolUse.Name != "exec_command" {
		t.Errorf("second call's assistant turn (reasoning replayed from encrypted_content, then the call): %+v", turn.Content)
	}
	if !toolResultContains(results, "tooluse_exec1", marker) {
		t.Errorf("second call's tool result does not carry the command's output: %+v", results.Content)
	}
	third := calls[2].Converse
	turn, results = lastTurns(third.Messages)
	if tu := turn.Content[len(turn.Content)-1].ToolUse; tu == nil || tu.Name != "multi_agent_v1__close_agent" || tu.ToolUseID != "tooluse_ns1" {
		t.Errorf("third call's assistant turn: %+v", turn.Content)
	}
	if !toolResultContains(results, "tooluse_ns1", "") {
		t.Errorf("third call has no result for the namespaced call: %+v", results.Content)
	}
	t.Logf("namespaced call result: %s", resultText(results))
	if strings.Contains(strings.ToLower(resultText(results)), "unsupported") {
		t.Errorf("Codex did not take the namespaced call as one of its tools: %s", resultText(results))
	}
}

// lastTurns returns the last assistant turn and the user turn after it.
func lastTurns(msgs []bedrock.Message) (assistant, user bedrock.Message) {
	for i := len(msgs) - 1; i > 0; i-- {
		if msgs[i].Role == "user" && msgs[i-1].Role == "assistant" {
			return msgs[i-1], msgs[i]
		}
	}
	return bedrock.Message{}, bedrock.Message{}
}

func toolResultContains(user bedrock.Message, id, text string) bool {
	for _, b := range user.Content {
		if b.ToolResult != nil && b.ToolResult.ToolUseID == id {
			return strings.Contains(resultText(user), text)
		}
	}
	return false
}

func resultText(user bedrock.Message) string {
	var b strings.Builder
	for _, c := range user.Content {
		if c.ToolResult == nil {
			continue
		}
		for _, rc := range c.ToolResult.Content {
			if rc.Text != nil {
				b.WriteString(*rc.Text)
			}
			b.Write(rc.JSON)
		}
	}
	return b.String()
}

// proxyRecorder is an HTTP proxy on loopback that refuses every request
// and remembers where it was meant to go.
type proxyRecorder struct {
	url  string
	mu   sync.Mutex
	seen []string
}

func (p *proxyRecorder) hosts() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func refusingProxy(t *testing.T) *proxyRecorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &proxyRecorder{url: "http://" + ln.Addr().String()}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				line, _ := bufio.NewReader(conn).ReadString('\n')
				if f := strings.Fields(line); len(f) >= 2 {
					p.mu.Lock()
					p.seen = append(p.seen, f[0]+" "+f[1])
					p.mu.Unlock()
				}
				fmt.Fprint(conn, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			}()
		}
	}()
	return p
}
