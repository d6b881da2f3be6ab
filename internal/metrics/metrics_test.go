package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRecordsOnTheRegistryGiven(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	d := m.Deployment("bedrock-claude", "bedrock-claude#1")
	d.Started()
	d.FirstToken(300 * time.Millisecond)
	d.Served(2 * time.Second)
	d.Tokens(10, 20)
	d.Ended()
	d.UpstreamError("ThrottlingException")
	d.Cooldown()
	m.Request("bedrock-claude", "bedrock-claude#1", 200)
	m.Request("bedrock-claude", "", 429)
	m.Retry("bedrock-claude")
	m.Fallback("bedrock-claude", "bedrock-llama", "error")

	want := `
# HELP strata_requests_total Chat requests answered, by the model_name asked for, the deployment that served (empty if none did) and HTTP status.
# TYPE strata_requests_total counter
strata_requests_total{deployment="",model_name="bedrock-claude",status="429"} 1
strata_requests_total{deployment="bedrock-claude#1",model_name="bedrock-claude",status="200"} 1
# HELP strata_tokens_total Tokens Bedrock reported, by deployment and direction (input or output).
# TYPE strata_tokens_total counter
strata_tokens_total{deployment="bedrock-claude#1",direction="input",model_name="bedrock-claude"} 10
strata_tokens_total{deployment="bedrock-claude#1",direction="output",model_name="bedrock-claude"} 20
# HELP strata_in_flight_requests Calls to Bedrock in progress, by deployment.
# TYPE strata_in_flight_requests gauge
strata_in_flight_requests{deployment="bedrock-claude#1",model_name="bedrock-claude"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "strata_requests_total", "strata_tokens_total", "strata_in_flight_requests"); err != nil {
		t.Error(err)
	}
	for name, want := range map[string]int{
		"strata_request_duration_seconds":    1,
		"strata_time_to_first_token_seconds": 1,
		"strata_retries_total":               1,
		"strata_fallbacks_total":             1,
		"strata_deployment_cooldowns_total":  1,
		"strata_upstream_errors_total":       1,
	} {
		if got, err := testutil.GatherAndCount(reg, name); err != nil || got != want {
			t.Errorf("%s: %d series (%v), want %d", name, got, err, want)
		}
	}
}

func TestReloadsCountByResultAndTheLastOneIsKept(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	check := func(want string) {
		t.Helper()
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "strata_config_reloads_total", "strata_config_last_reload_successful"); err != nil {
			t.Error(err)
		}
	}
	check(`
# HELP strata_config_last_reload_successful 1 if the last reload of the config file succeeded (or none was tried), 0 if the file had problems and the gateway still serves an older config.
# TYPE strata_config_last_reload_successful gauge
strata_config_last_reload_successful 1
`)
	m.Reload(true)
	m.Reload(false)
	check(`
# HELP strata_config_last_reload_successful 1 if the last reload of the config file succeeded (or none was tried), 0 if the file had problems and the gateway still serves an older config.
# TYPE strata_config_last_reload_successful gauge
strata_config_last_reload_successful 0
# HELP strata_config_reloads_total Reloads of the config file (SIGHUP or POST /config/reload), by result: success, or failure when the file had problems and the running config was kept.
# TYPE strata_config_reloads_total counter
strata_config_reloads_total{result="failure"} 1
strata_config_reloads_total{result="success"} 1
`)
}

func TestRegisteringTwiceFails(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := New(reg); err == nil {
		t.Error("a second set of the same collectors registered")
	}
}

// A nil *Metrics is how code runs without a registry: every method is a
// no-op that neither panics nor falls back to Prometheus' global registry,
// and Deployment hands out the nil *Deployment so callers allocate nothing.
func TestNilRecordsNothing(t *testing.T) {
	before := strataSeries(t, prometheus.DefaultGatherer)
	var m *Metrics
	m.Request("m", "d", 200)
	m.Retry("m")
	m.Fallback("m", "n", "error")
	m.Reload(false)
	d := m.Deployment("m", "d")
	if d != nil {
		t.Fatalf("a nil *Metrics handed out a live *Deployment: %#v", d)
	}
	d.Started()
	d.FirstToken(time.Second)
	d.Served(time.Second)
	d.Tokens(1, 1)
	d.UpstreamError("x")
	d.Cooldown()
	d.Ended()
	if after := strataSeries(t, prometheus.DefaultGatherer); after != before {
		t.Errorf("the global registry went from %d to %d strata series", before, after)
	}
	if allocs := testing.AllocsPerRun(100, func() {
		m.Deployment("m", "d").Tokens(1, 1)
		m.Request("m", "d", 200)
	}); allocs != 0 {
		t.Errorf("recording nothing allocates %v times", allocs)
	}
}

// strataSeries counts the strata_ series g exposes.
func strataSeries(t *testing.T, g prometheus.Gatherer) int {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "strata_") {
			n += len(f.GetMetric())
		}
	}
	return n
}
