package app

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-gateway/strata/internal/auth"
	"github.com/strata-gateway/strata/internal/config"
	"github.com/strata-gateway/strata/internal/limits"
	"github.com/strata-gateway/strata/internal/metrics"
	"github.com/strata-gateway/strata/internal/server"
)

// reloadModel is a model_list entry that builds without calling AWS.
func reloadModel(name string) string {
	return `  - model_name: ` + name + `
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_access_key_id: AKIARELOADTEST000001
      aws_secret_access_key: reload-test-secret
      aws_region_name: us-west-2
      aws_bedrock_runtime_endpoint: http://127.0.0.1:9
`
}

type reloadFixture struct {
	path string
	rl   *reloader
	reg  *prometheus.Registry
	logs *bytes.Buffer
}

func newReloadFixture(t *testing.T, file string) *reloadFixture {
	t.Helper()
	f := &reloadFixture{path: filepath.Join(t.TempDir(), "config.yaml"), logs: &bytes.Buffer{}, reg: prometheus.NewRegistry()}
	f.write(t, file)
	log := slog.New(slog.NewTextHandler(f.logs, nil))
	cfg, err := config.Load(f.path, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	m, err := metrics.New(f.reg)
	if err != nil {
		t.Fatal(err)
	}
	deployments, err := prepare(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := newRouter(cfg, deployments, log, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.rl = &reloader{path: f.path, current: cfg, log: log, metrics: m, router: rt,
		limiter: limits.New(limits.Options{Global: gatewayBudget(cfg.Settings)}), lookupEnv: os.LookupEnv}
	if master := cfg.Settings.MasterKey.Value(); master != "" {
		f.rl.auth = auth.New(auth.Options{MasterKey: master})
	}
	return f
}

func (f *reloadFixture) write(t *testing.T, file string) {
	t.Helper()
	if err := os.WriteFile(f.path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
}

// metric is the value of a counter or gauge, of its series whose first
// label is label ("" for none).
func (f *reloadFixture) metric(t *testing.T, name, label string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			if label == "" || len(m.Label) > 0 && m.Label[0].GetValue() == label {
				return m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func TestReloadSwapsModelsAndReportsWhatChanged(t *testing.T) {
	f := newReloadFixture(t, "model_list:\n"+reloadModel("a")+reloadModel("keep")+`
router_settings:
  num_retries: 1
general_settings:
  database_url: sqlite://one.db
`)
	f.write(t, "model_list:\n"+reloadModel("keep")+reloadModel("b")+`
router_settings:
  num_retries: 2
litellm_settings:
  max_budget: 10
general_settings:
  database_url: sqlite://two.db
`)
	report, err := f.rl.reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := &server.ReloadReport{
		Status: "reloaded", Config: f.path,
		Models:          []string{"keep", "b"},
		ModelsAdded:     []string{"b"},
		ModelsRemoved:   []string{"a"},
		ModelsChanged:   []string{},
		SettingsChanged: []string{"litellm_settings.max_budget", "router_settings.num_retries"},
		RestartRequired: []string{"general_settings.database_url"},
		Warnings:        report.Warnings,
	}
	if !equalReports(report, want) {
		t.Errorf("report = %+v\nwant     %+v", report, want)
	}
	if got := f.rl.router.Names(); !slices.Equal(got, []string{"keep", "b"}) {
		t.Errorf("serving %v, want [keep b]", got)
	}
	if err := f.rl.router.Has("a"); err == nil {
		t.Error("a is still served")
	}
	if !strings.Contains(f.logs.String(), "take effect only when the gateway starts again") || !strings.Contains(f.logs.String(), "general_settings.database_url") {
		t.Errorf("the setting left for a restart is not logged:\n%s", f.logs)
	}
	if strings.Contains(f.logs.String(), "two.db") || strings.Contains(f.logs.String(), "reload-test-secret") {
		t.Errorf("a setting's value was logged:\n%s", f.logs)
	}

	// The same file again: nothing is applied, and the setting that waits
	// for a restart is still reported.
	report, err = f.rl.reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if report.Status != "unchanged" || !slices.Equal(report.RestartRequired, []string{"general_settings.database_url"}) || len(report.SettingsChanged)+len(report.ModelsAdded)+len(report.ModelsRemoved) != 0 {
		t.Errorf("reloading the same file: %+v", report)
	}
	if got := f.metric(t, "strata_config_reloads_total", "success"); got != 2 {
		t.Errorf("strata_config_reloads_total{result=success} = %v, want 2", got)
	}

	// A changed entry of a model name that stays.
	f.write(t, "model_list:\n"+reloadModel("keep")+strings.Replace(reloadModel("b"), "us-west-2", "eu-west-1", 1))
	report, err = f.rl.reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(report.ModelsChanged, []string{"b"}) || len(report.ModelsAdded)+len(report.ModelsRemoved) != 0 {
		t.Errorf("b's region changed: %+v", report)
	}
	if got := f.rl.router.Deployments("b")[0].Client.Region(); got != "eu-west-1" {
		t.Errorf("b calls %s, want eu-west-1", got)
	}
}

func TestReloadOfABrokenFileKeepsTheRunningConfig(t *testing.T) {
	f := newReloadFixture(t, "model_list:\n"+reloadModel("a"))
	t.Setenv("STRATA_RELOAD_TEST_VAR", "before")
	f.write(t, `environment_variables:
  STRATA_RELOAD_TEST_VAR: after
model_list:
`+reloadModel("b")+`  - model_name: c
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_region_name: os.environ/STRATA_RELOAD_TEST_UNSET
router_settings:
  num_retries: -1
  routing_strategy: fastest-please
`)
	report, err := f.rl.reload(context.Background())
	var rejected *server.ConfigRejected
	if !errors.As(err, &rejected) {
		t.Fatalf("reload = %+v, %v; want a *server.ConfigRejected", report, err)
	}
	for _, want := range []string{"STRATA_RELOAD_TEST_UNSET", "num_retries", "fastest-please"} {
		if !slices.ContainsFunc(rejected.Problems, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("no problem names %s: %q", want, rejected.Problems)
		}
		if !strings.Contains(f.logs.String(), want) {
			t.Errorf("the problem with %s is not logged:\n%s", want, f.logs)
		}
	}
	if got := f.rl.router.Names(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("serving %v after a refused reload, want [a]", got)
	}
	if got := os.Getenv("STRATA_RELOAD_TEST_VAR"); got != "before" {
		t.Errorf("the refused file's environment_variables stayed set: %q", got)
	}
	if got := f.metric(t, "strata_config_reloads_total", "failure"); got != 1 {
		t.Errorf("strata_config_reloads_total{result=failure} = %v, want 1", got)
	}
	if got := f.metric(t, "strata_config_last_reload_successful", ""); got != 0 {
		t.Errorf("strata_config_last_reload_successful = %v, want 0", got)
	}

	// Fixed, the file loads; the refused attempt left nothing behind.
	f.write(t, "model_list:\n"+reloadModel("b"))
	report, err = f.rl.reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(report.ModelsAdded, []string{"b"}) || !slices.Equal(report.ModelsRemoved, []string{"a"}) {
		t.Errorf("report after the fix: %+v", report)
	}
}

// A file whose one entry cannot be built is refused as a whole, though
// startup would serve its other entries: a reload must not trade a
// working deployment for one that answers with its problems.
func TestReloadRefusesAnEntryThatCannotBeBuilt(t *testing.T) {
	f := newReloadFixture(t, "model_list:\n"+reloadModel("a"))
	f.write(t, "model_list:\n"+reloadModel("a")+`  - model_name: c
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_region_name: os.environ/STRATA_RELOAD_TEST_UNSET
`)
	_, err := f.rl.reload(context.Background())
	var rejected *server.ConfigRejected
	if !errors.As(err, &rejected) || len(rejected.Problems) == 0 {
		t.Fatalf("reload: %v", err)
	}
	if err := f.rl.router.Has("c"); err == nil {
		t.Error("c is served")
	}
}

// A new master key replaces the old one at once; turning the key check on
// or off waits for a restart.
func TestReloadRotatesTheMasterKey(t *testing.T) {
	models := "model_list:\n" + reloadModel("a")
	f := newReloadFixture(t, models+"general_settings:\n  master_key: sk-reload-old-master\n")
	f.write(t, models+"general_settings:\n  master_key: sk-reload-new-master\n")
	report, err := f.rl.reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(report.SettingsChanged, []string{"general_settings.master_key"}) || len(report.RestartRequired) != 0 {
		t.Errorf("a new master key: %+v", report)
	}
	if f.rl.auth.IsMaster("sk-reload-old-master") || !f.rl.auth.IsMaster("sk-reload-new-master") {
		t.Error("the master key was not replaced")
	}
	if strings.Contains(f.logs.String(), "sk-reload-") {
		t.Errorf("a master key was logged:\n%s", f.logs)
	}

	f.write(t, models)
	report, err = f.rl.reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(report.RestartRequired, []string{"general_settings.master_key"}) || len(report.SettingsChanged) != 0 {
		t.Errorf("the master key removed: %+v", report)
	}
	if !f.rl.auth.IsMaster("sk-reload-new-master") {
		t.Error("removing the master key from the file turned the key check off without a restart")
	}

	open := newReloadFixture(t, models)
	open.write(t, models+"general_settings:\n  master_key: sk-reload-new-master\n")
	report, err = open.rl.reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(report.RestartRequired, []string{"general_settings.master_key"}) {
		t.Errorf("a master key added to a gateway without one: %+v", report)
	}
}

func equalReports(a, b *server.ReloadReport) bool {
	return a.Status == b.Status && a.Config == b.Config &&
		slices.Equal(a.Models, b.Models) && slices.Equal(a.ModelsAdded, b.ModelsAdded) &&
		slices.Equal(a.ModelsRemoved, b.ModelsRemoved) && slices.Equal(a.ModelsChanged, b.ModelsChanged) &&
		slices.Equal(a.SettingsChanged, b.SettingsChanged) && slices.Equal(a.RestartRequired, b.RestartRequired)
}
