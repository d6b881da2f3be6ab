package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go/v3/option"

	"github.com/strata-gateway/strata/internal/emulator"
	"github.com/strata-gateway/strata/internal/store/storetest"
)

// A stream still open at SIGTERM is cut at the shutdown deadline, after
// which the gateway ends: its spend row, costed for what was produced, is
// written all the same and is there after a restart.
func TestSpendOfAStreamCutAtShutdown(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	cfg := keysConfig(endpoint, storetest.URL(t, "sqlite"), "  proxy_batch_write_at: 3600\n")
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g := &keyGateway{gateway: startStrata(t, keysEnv, "--config", path, "--shutdown-timeout", "1s"), t: t, em: em}
	var k generated
	g.admin("POST", "/key/generate", `{"key_alias":"streamer"}`, &k)

	// Two events, then Bedrock is silent until the call is cancelled.
	em.Fault(emulator.Fault{Kind: emulator.FaultStreamStall, AfterEvents: 2, Times: 1})
	client := g.client(option.WithAPIKey(k.Key))
	stream := client.Chat.Completions.NewStreaming(ctxTimeout(t), hi("bedrock-claude"), option.WithHeader("X-Request-Id", "cut-at-shutdown"))
	if !stream.Next() {
		t.Fatalf("no first chunk: %v", stream.Err())
	}
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for stream.Next() { // until the gateway cuts it
	}
	var exitErr *exec.ExitError
	select {
	case err := <-g.done:
		if !errors.As(err, &exitErr) {
			t.Errorf("strata exited with %v after cutting a stream, want a failed status", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("strata did not exit")
	}

	g2 := &keyGateway{gateway: startGateway(t, cfg, keysEnv...), t: t, em: em}
	rows := g2.spendLogs("request_id=cut-at-shutdown", 1)
	if len(rows) != 1 || rows[0].APIKey != k.Token {
		t.Fatalf("after the restart: spend rows %+v for the cut stream, want one of key %s\n%s", rows, k.Token, g.logs)
	}
}
