package app

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/trace"

	"github.com/strata-gateway/strata/internal/auth"
	"github.com/strata-gateway/strata/internal/config"
	"github.com/strata-gateway/strata/internal/fetch"
	"github.com/strata-gateway/strata/internal/limits"
	"github.com/strata-gateway/strata/internal/metrics"
	"github.com/strata-gateway/strata/internal/router"
	"github.com/strata-gateway/strata/internal/server"
)

type reloadKey struct{}

// WithReloadSignal hands Run the channel on which the process receives
// SIGHUP. Log rotators and `systemctl reload` send it; it reloads the
// config file and never ends the gateway.
func WithReloadSignal(ctx context.Context, signals <-chan os.Signal) context.Context {
	return context.WithValue(ctx, reloadKey{}, signals)
}

// answerReloads reloads the config on every SIGHUP until ctx ends.
func answerReloads(ctx context.Context, rl *reloader) {
	onSIGHUP(ctx, func() {
		rl.log.Info("SIGHUP received: reloading the config", "config", rl.path)
		// The outcome is logged either way.
		_, _ = rl.reload(ctx)
	})
}

// ignoreReloads answers SIGHUP when there is no config file to read again
// (strata --model, strata demo): the signal must not end the gateway.
func ignoreReloads(ctx context.Context, log *slog.Logger) {
	onSIGHUP(ctx, func() {
		log.Warn("SIGHUP received: there is no config file to reload (started without --config); nothing changes")
	})
}

// onSIGHUP calls f for every signal on the channel WithReloadSignal put in
// ctx, until ctx ends.
func onSIGHUP(ctx context.Context, f func()) {
	signals, _ := ctx.Value(reloadKey{}).(<-chan os.Signal)
	if signals == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-signals:
			f()
		}
	}
}

// reloader reads the config file again and hands what it says to the
// parts of the running gateway that can take it: a new router (model_list,
// router_settings, prices, drop_params, credentials) swapped in whole, and
// the gateway's budget. Requests in flight keep what they started with.
// State that outlives a config stays where it is: the database, the spend
// batcher, the key cache, the limiter's counters, the metrics registry,
// and the cooldowns of deployments still in the file.
type reloader struct {
	mu      sync.Mutex // one reload at a time
	path    string
	current *config.Config
	log     *slog.Logger
	metrics *metrics.Metrics
	router  *router.Router
	limiter *limits.Limiter
	auth    *auth.Authenticator // nil: no master key, no key check
	server  *server.Server
	// tracer is the one the gateway started with: traces are turned on
	// or off, and sent elsewhere, only by a restart.
	tracer trace.Tracer
	// lookupEnv resolves os.environ/ references; os.LookupEnv but in tests.
	lookupEnv func(string) (string, bool)
}

// reload loads the file and, if it has no problem, serves it to new
// requests. A file with problems changes nothing: every problem is logged
// and returned in a *server.ConfigRejected.
func (rl *reloader) reload(ctx context.Context) (*server.ReloadReport, error) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	next, deployments, rt, warnings, err := rl.load(ctx)
	if err != nil {
		rl.metrics.Reload(false)
		var rejected *server.ConfigRejected
		if errors.As(err, &rejected) {
			for _, p := range rejected.Problems {
				rl.log.Error("config reload refused: "+p, "config", rl.path)
			}
		}
		rl.log.Error("config reload failed: still serving the config loaded before", "config", rl.path, "error", err.Error())
		return nil, err
	}
	applied := func(key string) bool {
		if key == "general_settings.master_key" {
			// A new master key replaces the old one; turning the key check
			// on or off needs the database opened or closed: a restart.
			return rl.auth != nil && next.Settings.MasterKey != ""
		}
		return appliedOnReload(key)
	}
	report := diffConfigs(rl.current, next, applied)
	report.Warnings = warnings
	rl.router.Swap(rt)
	rl.limiter.SetGlobal(gatewayBudget(next.Settings))
	if applied("general_settings.master_key") {
		rl.auth.SetMasterKey(next.Settings.MasterKey.Value())
	}
	if rl.server != nil {
		rl.server.SetSettings(serverSettings(next.Settings))
	}
	// What needs a restart keeps its running value here, so that the next
	// reload reports it again until the gateway starts with it.
	next.Settings.General = withRestartOnly(next.Settings.General, rl.current.Settings.General, "general_settings.", applied)
	next.Settings.LiteLLM = withRestartOnly(next.Settings.LiteLLM, rl.current.Settings.LiteLLM, "litellm_settings.", applied)
	if !applied("general_settings.master_key") {
		next.Settings.MasterKey = rl.current.Settings.MasterKey
	}
	rl.current = next
	rl.metrics.Reload(true)
	for _, w := range warnings {
		rl.log.Warn(w)
	}
	rl.log.Info("config reloaded", "config", rl.path, "status", report.Status,
		"models", strings.Join(report.Models, ","), "deployments", len(deployments),
		"models_added", strings.Join(report.ModelsAdded, ","),
		"models_removed", strings.Join(report.ModelsRemoved, ","),
		"models_changed", strings.Join(report.ModelsChanged, ","),
		"settings_changed", strings.Join(report.SettingsChanged, ","))
	if len(report.RestartRequired) > 0 {
		rl.log.Warn("config reload: these settings changed in the file but take effect only when the gateway starts again; the values it started with stay in use",
			"settings", strings.Join(report.RestartRequired, ","))
	}
	return report, nil
}

// load reads the file and builds what it describes, as startup does,
// without touching what is served. Any problem startup would log as an
// error refuses the file: a reload never serves a deployment that
// answers with its config's problems.
func (rl *reloader) load(ctx context.Context) (*config.Config, []*router.Deployment, *router.Router, []string, error) {
	cfg, err := config.Load(rl.path, rl.lookupEnv)
	if err != nil {
		var errs *config.Errors
		if errors.As(err, &errs) {
			return nil, nil, nil, nil, &server.ConfigRejected{Path: rl.path, Problems: strings.Split(err.Error(), "\n")}
		}
		return nil, nil, nil, nil, &server.ConfigRejected{Path: rl.path, Problems: []string{err.Error()}}
	}
	applyAccessEnv(cfg, rl.lookupEnv)
	restoreEnv := saveEnv(cfg.Environment)
	found := &findings{}
	log := slog.New(found)
	deployments, err := prepare(ctx, cfg, log)
	var rt *router.Router
	if err == nil {
		rt, err = newRouter(cfg, deployments, rl.log, rl.metrics, rl.tracer)
	}
	problems, warnings := found.lines()
	if err != nil && len(problems) == 0 {
		problems = strings.Split(err.Error(), "\n")
	}
	if len(problems) > 0 {
		restoreEnv()
		return nil, nil, nil, nil, &server.ConfigRejected{Path: cfg.Path, Problems: problems}
	}
	return cfg, deployments, rt, warnings, nil
}

// saveEnv remembers the process environment's values of names; the
// returned func puts them back, for a file whose environment_variables
// were set before it was refused.
func saveEnv(names map[string]config.Secret) (restore func()) {
	type saved struct {
		value string
		set   bool
	}
	before := make(map[string]saved, len(names))
	for name := range names {
		v, ok := os.LookupEnv(name)
		before[name] = saved{v, ok}
	}
	return func() {
		for name, s := range before {
			if s.set {
				_ = os.Setenv(name, s.value)
			} else {
				_ = os.Unsetenv(name)
			}
		}
	}
}

// appliedOnReload says whether a reload serves a changed setting at once:
// router_settings, environment_variables, the litellm_settings the router,
// the translation, the image fetcher and the gateway budget read, and the
// general_settings each request reads when it arrives (a new master key
// too, see reload). The others are read once, when the gateway starts
// (the database and the key check on it, the key cache, the spend
// batcher, the bounds on requests and bodies in flight, the drain delay,
// keys Strata does not implement): a reload reports them as needing a
// restart and keeps their running values.
func appliedOnReload(key string) bool {
	section, name, _ := strings.Cut(key, ".")
	switch section {
	case "router_settings", "environment_variables":
		return true
	case "litellm_settings":
		switch name {
		case "drop_params", "num_retries", "request_timeout", "fallbacks", "context_window_fallbacks",
			"content_policy_fallbacks", "max_budget", "budget_duration", "user_url_allowed_hosts", "user_url_validation":
			return true
		}
	case "general_settings":
		switch name {
		case "max_request_size_mb", "request_body_timeout", "stream_write_timeout", "health_check_upstream",
			"store_prompts_in_spend_logs", "require_auth_for_metrics_endpoint":
			return true
		}
	}
	return false
}

// serverSettings are the settings of s the HTTP surface reads per request.
func serverSettings(s config.Settings) server.Settings {
	return server.Settings{
		MaxRequestBytes:     s.MaxRequestBytes,
		RequestBodyTimeout:  s.RequestBodyTimeout,
		StreamWriteTimeout:  s.StreamWriteTimeout,
		HealthCheckUpstream: s.HealthCheckUpstream,
		StorePrompts:        s.StorePrompts,
		MetricsNeedAuth:     s.RequireAuthForMetrics,
		Fetcher:             fetch.New(fetch.Options{AllowedHosts: s.URLAllowedHosts, DisableValidation: s.URLValidationOff}),
	}
}

// withRestartOnly is section next with the restart-only keys as running
// holds them.
func withRestartOnly(next, running map[string]any, prefix string, applied func(string) bool) map[string]any {
	out := maps.Clone(next)
	if out == nil {
		out = map[string]any{}
	}
	for _, k := range slices.Collect(maps.Keys(keyUnion(next, running))) {
		if applied(prefix + k) {
			continue
		}
		if v, ok := running[k]; ok {
			out[k] = v
		} else {
			delete(out, k)
		}
	}
	return out
}

func keyUnion(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a)+len(b))
	maps.Copy(out, a)
	maps.Copy(out, b)
	return out
}

// diffConfigs says what serving next instead of running changes; applied
// tells the settings a reload serves from those that wait for a restart.
// Only key names are reported, never values: some are secrets.
func diffConfigs(running, next *config.Config, applied func(key string) bool) *server.ReloadReport {
	r := &server.ReloadReport{Config: next.Path, Models: []string{}, ModelsAdded: []string{}, ModelsRemoved: []string{},
		ModelsChanged: []string{}, SettingsChanged: []string{}, RestartRequired: []string{}, Warnings: []string{}}
	before, after := modelsByName(running.Models), modelsByName(next.Models)
	for _, m := range next.Models {
		if slices.Contains(r.Models, m.Name) {
			continue
		}
		r.Models = append(r.Models, m.Name)
		old, ok := before[m.Name]
		switch {
		case !ok:
			r.ModelsAdded = append(r.ModelsAdded, m.Name)
		case !reflect.DeepEqual(old, after[m.Name]):
			r.ModelsChanged = append(r.ModelsChanged, m.Name)
		}
	}
	for _, m := range running.Models {
		if _, ok := after[m.Name]; !ok && !slices.Contains(r.ModelsRemoved, m.Name) {
			r.ModelsRemoved = append(r.ModelsRemoved, m.Name)
		}
	}
	if !slices.Equal(unservedLines(running.Unserved), unservedLines(next.Unserved)) {
		r.SettingsChanged = append(r.SettingsChanged, "model_list (entries of other providers)")
	}
	var changed []string
	changed = append(changed, changedKeys("litellm_settings.", running.Settings.LiteLLM, next.Settings.LiteLLM)...)
	changed = append(changed, changedKeys("router_settings.", running.Settings.Router, next.Settings.Router)...)
	changed = append(changed, changedKeys("general_settings.", running.Settings.General, next.Settings.General)...)
	changed = append(changed, changedKeys("environment_variables.", secretsAsAny(running.Environment), secretsAsAny(next.Environment))...)
	for _, k := range changed {
		if applied(k) {
			r.SettingsChanged = append(r.SettingsChanged, k)
		} else {
			r.RestartRequired = append(r.RestartRequired, k)
		}
	}
	r.Status = "reloaded"
	if len(r.ModelsAdded)+len(r.ModelsRemoved)+len(r.ModelsChanged)+len(r.SettingsChanged) == 0 {
		r.Status = "unchanged"
	}
	return r
}

// modelsByName groups model_list entries by model_name, without the
// lines they were written on: moving an entry in the file changes nothing.
func modelsByName(list []config.Model) map[string][]config.Model {
	out := make(map[string][]config.Model)
	for _, m := range list {
		m.Line = 0
		m.Problems = nil
		out[m.Name] = append(out[m.Name], m)
	}
	return out
}

func unservedLines(list []config.Unserved) []string {
	out := make([]string, len(list))
	for i, u := range list {
		out[i] = u.Name + " " + u.Model
	}
	return out
}

func secretsAsAny(m map[string]config.Secret) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// changedKeys lists, sorted, the keys set, unset or given another value
// between a and b.
func changedKeys(prefix string, a, b map[string]any) []string {
	var out []string
	for k := range keyUnion(a, b) {
		va, inA := a[k]
		vb, inB := b[k]
		if inA != inB || !reflect.DeepEqual(va, vb) {
			out = append(out, prefix+k)
		}
	}
	slices.Sort(out)
	return out
}
