package e2e

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// runCheck runs `strata check --config <config written to a fresh dir>`
// and returns its stdout, stderr and exit status. The command must end by
// itself: one that served would never exit.
func runCheck(t *testing.T, config string, env ...string) (stdout, stderr string, status int, dir string) {
	t.Helper()
	dir = t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctxTimeout(t), strataBin, "check", "--config", path)
	cmd.Dir = dir
	cmd.Env = append(baseEnv(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.Exited():
		status = exit.ExitCode()
	default:
		t.Fatalf("strata check did not exit by itself: %v\n%s%s", err, &out, &errOut)
	}
	if strings.Contains(errOut.String(), "listening") {
		t.Errorf("strata check started serving:\n%s", &errOut)
	}
	// No database file is created, next to the config or anywhere in its dir.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "config.yaml" {
			t.Errorf("strata check created %s", e.Name())
		}
	}
	return out.String(), errOut.String(), status, dir
}

// stsServer counts every request, to show that check calls no AWS service.
func stsServer(t *testing.T) (string, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, "no", http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

func TestCheckGoodConfig(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	sts, stsCalls := stsServer(t)
	config := seedConfig(endpoint) + `  - model_name: assumed
    litellm_params:
      model: bedrock/amazon.nova-lite-v1:0
      aws_region_name: us-east-1
      aws_role_name: arn:aws:iam::123456789012:role/bedrock-caller
      aws_sts_endpoint: ` + sts + `
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
litellm_settings:
  set_verbose: true
general_settings:
  master_key: sk-check-master-secret
`
	stdout, stderr, status, _ := runCheck(t, config, seedEnv...)
	if status != 0 {
		t.Fatalf("exit status %d, want 0:\n%s%s", status, stdout, stderr)
	}
	for _, want := range []string{
		"ok: 2 models served (bedrock-claude, assumed), 2 deployments, 2 warnings",
		"warning: ", "set_verbose", "gpt-4o (openai",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	for _, secret := range []string{testSecretKey, testAccessKey, "sk-check-master-secret"} {
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("output shows a secret:\n%s%s", stdout, stderr)
		}
	}
	if n := stsCalls.Load(); n != 0 {
		t.Errorf("strata check called STS %d times", n)
	}
	if calls := em.Calls(); len(calls) != 0 {
		t.Errorf("strata check called Bedrock: %+v", calls)
	}
}

func TestCheckReportsEveryProblem(t *testing.T) {
	sts, stsCalls := stsServer(t)
	config := `model_list:
  - model_name: claude
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: us-east-1
  - model_name: claude
    litellm_params:
      model: bedrock/anthropic.claude-3-haiku-20240307-v1:0
      aws_region_name: us-east-1
      aws_role_name: arn:aws:iam::<ACCOUNT>:role/BedrockCrossAccount
      aws_sts_endpoint: ` + sts + `
  - model_name: nova-eu
    litellm_params:
      model: bedrock/amazon.nova-lite-v1:0
      aws_access_key_id: os.environ/EU_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/EU_AWS_SECRET_ACCESS_KEY
      aws_region_name: eu-central-1
router_settings:
  enable_pre_call_checks: true
`
	stdout, stderr, status, _ := runCheck(t, config)
	if status != 1 {
		t.Fatalf("exit status %d, want 1:\n%s%s", status, stdout, stderr)
	}
	for _, want := range []string{
		"error: ", "config.yaml:6: model_list[1] (claude): aws_role_name must be a role ARN",
		"config.yaml:15: model_list[2].litellm_params.aws_access_key_id: environment variable EU_AWS_ACCESS_KEY_ID is not set",
		"config.yaml:16: model_list[2].litellm_params.aws_secret_access_key: environment variable EU_AWS_SECRET_ACCESS_KEY is not set",
		"warning: ", "enable_pre_call_checks",
		"3 problems, 2 warnings",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if n := stsCalls.Load(); n != 0 {
		t.Errorf("strata check called STS %d times", n)
	}
}

func TestCheckFileWideErrors(t *testing.T) {
	config := `model_list:
  - model_name: a
    litellm_params:
      model: bedrock/amazon.nova-lite-v1:0
      aws_region_name: us-east-1
      rpm: lots
router_settings:
  num_retries: many
general_settings:
  master_key: os.environ/STRATA_CHECK_UNSET_MASTER_KEY
`
	stdout, stderr, status, _ := runCheck(t, config)
	if status != 1 {
		t.Fatalf("exit status %d, want 1:\n%s%s", status, stdout, stderr)
	}
	for _, want := range []string{
		"error: ", "config.yaml:6: model_list[0].litellm_params.rpm: must be a whole number",
		"config.yaml:8: router_settings.num_retries: must be a whole number",
		"config.yaml:10: general_settings.master_key: environment variable STRATA_CHECK_UNSET_MASTER_KEY is not set",
		"3 problems",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestCheckUsage(t *testing.T) {
	for _, args := range [][]string{{"check"}, {"check", "--config", "a.yaml", "extra"}, {"check", "--port", "1"}} {
		cmd := exec.CommandContext(ctxTimeout(t), strataBin, args...)
		cmd.Dir = t.TempDir()
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("strata %v: %v, want exit status 2:\n%s", args, err, out)
		}
	}
}
