package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/emulator"
)

// claudeEnv names the claude binary scripts/test installs from npm
// (@anthropic-ai/claude-code).
const claudeEnv = "STRATA_TEST_CLAUDE"

// runClaude runs the real Claude Code CLI in print mode with a throwaway
// HOME, telemetry, updates and other traffic off, and everything beyond
// loopback sent to a proxy that refuses it.
func runClaude(t *testing.T, args []string, env ...string) (stdout, stderr string, beyondLoopback []string) {
	t.Helper()
	claude := os.Getenv(claudeEnv)
	if claude == "" {
		t.Fatalf("%s is not set: run the tests with scripts/test, which installs @anthropic-ai/claude-code", claudeEnv)
	}
	home := t.TempDir()
	proxy := refusingProxy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, claude, append([]string{"-p"}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(baseEnv(), "HOME="+home, "XDG_CONFIG_HOME="+home+"/.config",
		"DISABLE_TELEMETRY=1", "DISABLE_AUTOUPDATER=1", "DISABLE_ERROR_REPORTING=1", "DISABLE_BUG_COMMAND=1",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "CLAUDE_CODE_DISABLE_TERMINAL_TITLE=1",
		"HTTPS_PROXY="+proxy.url, "HTTP_PROXY="+proxy.url, "https_proxy="+proxy.url, "http_proxy="+proxy.url,
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	for _, kv := range cmd.Env {
		if strings.HasPrefix(kv, "ANTHROPIC_") || strings.HasPrefix(kv, "CLAUDE_") && !strings.HasPrefix(kv, "CLAUDE_CODE_DISABLE") {
			t.Fatalf("the test's environment already sets %s", strings.SplitN(kv, "=", 2)[0])
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		t.Fatalf("claude -p: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	return out.String(), errOut.String(), proxy.hosts()
}

// streamedInvokes are the InvokeModelWithResponseStream calls that reached
// Bedrock for model, with their bodies.
func streamedInvokes(t *testing.T, em *emulator.Emulator, model string) []map[string]any {
	t.Helper()
	var bodies []map[string]any
	for _, c := range em.Calls() {
		if c.Operation == "InvokeModelWithResponseStream" && c.ModelID == model && c.Status == 200 {
			bodies = append(bodies, invokeBody(t, c))
		}
	}
	return bodies
}

func claudeCodeConfig(t *testing.T, endpoint string) string {
	return messagesConfig(endpoint) + fmt.Sprintf("general_settings:\n  master_key: os.environ/STRATA_MASTER_KEY\n  database_url: sqlite://%s/strata.db\n", t.TempDir())
}

// Claude Code in Anthropic mode, given a model name it does not know:
// it sends its newest model's features (adaptive thinking, effort, context
// management, 32000 max_tokens, a system turn at the end) to a Claude 3.5
// deployment, which takes none of them; the gateway adapts the request and
// the CLI prints the model's answer.
func TestClaudeCodeAnthropicMode(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, claudeCodeConfig(t, endpoint), keysEnv...)
	answer := "Hello from Bedrock, via Strata."
	em.Script(emulator.Script{Model: "anthropic.claude-3-5-sonnet-20241022-v2:0", Response: bedrock.ConverseResponse{
		Output:     bedrock.ConverseOutput{Message: &bedrock.Message{Role: "assistant", Content: []bedrock.ContentBlock{{Text: &answer}}}},
		StopReason: "end_turn", Usage: bedrock.TokenUsage{InputTokens: 900, OutputTokens: 8},
	}})
	out, stderr, beyond := runClaude(t, []string{"Say hello."},
		"ANTHROPIC_BASE_URL="+g.URL, "ANTHROPIC_API_KEY="+testMasterKey,
		"ANTHROPIC_MODEL=bedrock-claude", "ANTHROPIC_SMALL_FAST_MODEL=claude-3-5-haiku-20241022")
	t.Logf("hosts Claude Code tried beyond loopback (refused): %v", beyond)
	if strings.TrimSpace(out) != answer {
		t.Fatalf("claude printed %q, want %q\nstderr:\n%s", out, answer, stderr)
	}
	// Its HEAD / (a warm-up it does not wait for) is not always sent before
	// it exits; TestMessagesClaudeCodeProbes checks the answer to it.
	bodies := streamedInvokes(t, em, "anthropic.claude-3-5-sonnet-20241022-v2:0")
	if len(bodies) == 0 {
		t.Fatalf("no streamed InvokeModel reached Bedrock: %+v", em.Calls())
	}
	body := bodies[len(bodies)-1]
	for _, key := range []string{"thinking", "output_config", "context_management", "model", "stream"} {
		if _, ok := body[key]; ok {
			t.Errorf("%s reached a model that does not take it", key)
		}
	}
	if body["max_tokens"] != 8192.0 || body["anthropic_version"] != "bedrock-2023-05-31" {
		t.Errorf("max_tokens %v, anthropic_version %v", body["max_tokens"], body["anthropic_version"])
	}
	system, _ := json.Marshal(body["system"])
	if !strings.Contains(string(system), `"cache_control"`) || !strings.Contains(string(system), "Claude") {
		t.Errorf("system reached Bedrock as %s", system)
	}
	msgs, _ := json.Marshal(body["messages"])
	if !strings.Contains(string(msgs), "Say hello.") || strings.Contains(string(msgs), `"role":"system"`) {
		t.Errorf("messages reached Bedrock as %.2000s", msgs)
	}
	for _, param := range []string{`"param":"output_config.effort"`, `"param":"max_tokens"`} {
		if !strings.Contains(g.logs.String(), param) {
			t.Errorf("no log line about %s", param)
		}
	}
}

// Claude Code in Bedrock mode calls InvokeModelWithResponseStream through
// the pass-through with the gateway key in a custom header; its body (tools,
// system blocks with cache_control, metadata) reaches Bedrock unchanged.
func TestClaudeCodeBedrockMode(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, claudeCodeConfig(t, endpoint), keysEnv...)
	answer := "Hello through the Bedrock pass-through."
	em.Script(emulator.Script{Model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", Response: bedrock.ConverseResponse{
		Output:     bedrock.ConverseOutput{Message: &bedrock.Message{Role: "assistant", Content: []bedrock.ContentBlock{{Text: &answer}}}},
		StopReason: "end_turn", Usage: bedrock.TokenUsage{InputTokens: 900, OutputTokens: 8},
	}})
	out, stderr, beyond := runClaude(t, []string{"Say hello."},
		"CLAUDE_CODE_USE_BEDROCK=1", "ANTHROPIC_BEDROCK_BASE_URL="+g.URL+"/bedrock", "CLAUDE_CODE_SKIP_BEDROCK_AUTH=1",
		"AWS_REGION=us-west-2", "ANTHROPIC_CUSTOM_HEADERS=x-litellm-api-key: "+testMasterKey,
		"ANTHROPIC_MODEL=bedrock-sonnet-4-5", "ANTHROPIC_SMALL_FAST_MODEL=bedrock-claude")
	t.Logf("hosts Claude Code tried beyond loopback (refused): %v", beyond)
	if strings.TrimSpace(out) != answer {
		t.Fatalf("claude printed %q, want %q\nstderr:\n%s", out, answer, stderr)
	}
	bodies := streamedInvokes(t, em, "us.anthropic.claude-sonnet-4-5-20250929-v1:0")
	if len(bodies) == 0 {
		t.Fatalf("no streamed InvokeModel reached Bedrock: %+v", em.Calls())
	}
	body := bodies[len(bodies)-1]
	system, _ := json.Marshal(body["system"])
	if body["anthropic_version"] != "bedrock-2023-05-31" || !strings.Contains(string(system), `"cache_control"`) {
		t.Errorf("version %v, system %s", body["anthropic_version"], system)
	}
	if tools, _ := body["tools"].([]any); len(tools) == 0 {
		t.Error("no tools reached Bedrock")
	}
	if body["metadata"] == nil {
		t.Error("no metadata reached Bedrock")
	}
	for _, c := range em.Calls() {
		if c.AccessKeyID != testAccessKey {
			t.Errorf("a call was signed by %q, not the deployment's key", c.AccessKeyID)
		}
	}
	line := requestLineWhere(t, g, func(rec map[string]any) bool {
		return rec["path"] == "/bedrock/model/bedrock-sonnet-4-5/invoke-with-response-stream" && rec["status"] == 200.0
	})
	if line["prompt_tokens"] != 900.0 || line["completion_tokens"] != 8.0 {
		t.Errorf("access log: %v", line)
	}
}

// A tool round trip as Claude Code runs it: the model's Bash tool call
// streams in as input_json_delta, the CLI runs the command, and its output
// goes back to Bedrock as a tool_result before the final answer.
func TestClaudeCodeRunsATool(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, claudeCodeConfig(t, endpoint), keysEnv...)
	const model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
	marker := fmt.Sprintf("strata-claude-%d", time.Now().UnixNano()%1e6)
	em.Script(emulator.Script{Model: model, Response: toolUseAnswer(
		bedrock.ContentBlock{Text: text("I will run it.")},
		toolUse("toolu_bash1", "Bash", `{"command":"echo `+marker+`","description":"Print the marker"}`),
	)})
	final := "The command printed " + marker + "."
	em.Script(emulator.Script{Model: model, Response: bedrock.ConverseResponse{
		Output:     bedrock.ConverseOutput{Message: &bedrock.Message{Role: "assistant", Content: []bedrock.ContentBlock{{Text: &final}}}},
		StopReason: "end_turn", Usage: bedrock.TokenUsage{InputTokens: 1200, OutputTokens: 9},
	}})
	out, stderr, _ := runClaude(t, []string{"Run echo with the marker.", "--allowedTools", "Bash"},
		"ANTHROPIC_BASE_URL="+g.URL, "ANTHROPIC_AUTH_TOKEN="+testMasterKey,
		"ANTHROPIC_MODEL=claude-sonnet-4-5-20250929", "ANTHROPIC_SMALL_FAST_MODEL=claude-3-5-haiku-20241022")
	if strings.TrimSpace(out) != final {
		t.Fatalf("claude printed %q, want %q\nstderr:\n%s", out, final, stderr)
	}
	bodies := streamedInvokes(t, em, model)
	if len(bodies) < 2 {
		t.Fatalf("%d streamed calls reached the model", len(bodies))
	}
	msgs, _ := json.Marshal(bodies[len(bodies)-1]["messages"])
	if !strings.Contains(string(msgs), `"tool_use_id":"toolu_bash1"`) || !strings.Contains(string(msgs), marker) ||
		!strings.Contains(string(msgs), `"name":"Bash"`) {
		t.Errorf("the tool result did not go back to Bedrock: %.3000s", msgs)
	}
}
