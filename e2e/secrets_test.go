package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// secretSettingWords are the words that make a setting's name look like a
// credential's to Strata (internal/config checks the list against its code).
var secretSettingWords = []string{"key", "apikey", "secret", "token", "password", "passwd", "pwd", "credential", "credentials"}

// secretSettingsConfig is the seed's config plus, for every secret-looking
// word, settings Strata keeps but does not implement, each with a value of
// its own; values maps each value to the word and place it sits under.
func secretSettingsConfig(endpoint string) (config string, values map[string]string) {
	values = map[string]string{}
	var general, router, nested, params strings.Builder
	for _, w := range secretSettingWords {
		v := func(where string) string {
			value := fmt.Sprintf("%s-value-of-%s", where, w)
			values[value] = fmt.Sprintf("%s (%s)", w, where)
			return value
		}
		fmt.Fprintf(&general, "  my_%s: %s\n", w, v("general"))
		fmt.Fprintf(&router, "  redis_%s: %s\n", w, v("router"))
		fmt.Fprintf(&nested, "    %s: %s\n", w, v("nested"))
		fmt.Fprintf(&params, "        upstream_%s: %s\n", w, v("params"))
	}
	config = seedConfig(endpoint) + "      tags:\n" + params.String() +
		"litellm_settings:\n  cache_params:\n" + nested.String() +
		"general_settings:\n" + general.String() +
		"router_settings:\n" + router.String()
	return config, values
}

// Values under secret-looking setting names never leave Strata: not in its
// logs (debug level, a served request, a stream, the startup warnings that
// name those settings), not in its HTTP answers, and not in its output when
// the same config fails to start.
func TestSecretLookingSettingsNeverPrinted(t *testing.T) {
	_, endpoint := bedrockEmulator(t)
	config, values := secretSettingsConfig(endpoint)
	g := startGateway(t, config, seedEnv...)
	var answers bytes.Buffer
	for _, path := range []string{"/v1/models", "/health", "/health/readiness", "/metrics"} {
		resp, err := http.Get(g.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(&answers, resp.Body)
		resp.Body.Close()
	}
	for _, body := range []string{
		`{"model":"bedrock-claude","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"bedrock-claude","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"bedrock-claude","messages":"not a list"}`,
	} {
		_, raw, _ := g.post(t, "/chat/completions", body)
		answers.Write(raw)
	}
	g.stop(t)
	if !strings.Contains(g.logs.String(), "my_password") {
		t.Fatalf("no startup warning names the settings; the test config is not read as meant:\n%s", g.logs)
	}

	// The same settings beside a mistake: strata exits, saying why.
	path := filepath.Join(t.TempDir(), "broken.yaml")
	broken := strings.Replace(config, "bedrock/anthropic", "openai/anthropic", 1)
	if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(strataBin, "--config", path, "--log-level", "debug")
	cmd.Env = append(baseEnv(), seedEnv...)
	failed, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(failed), "broken.yaml") {
		t.Fatalf("a config with a mistake started, or said nothing of it (%v):\n%s", err, failed)
	}

	for name, out := range map[string]string{"logs": g.logs.String(), "HTTP answers": answers.String(), "failed start": string(failed)} {
		for value, where := range values {
			if strings.Contains(out, value) {
				t.Errorf("%s show the value of a setting named with %s", name, where)
			}
		}
	}
}
