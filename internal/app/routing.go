package app

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/strata-gateway/strata/internal/auth"
	"github.com/strata-gateway/strata/internal/config"
	"github.com/strata-gateway/strata/internal/metrics"
	"github.com/strata-gateway/strata/internal/router"
)

// newMetrics builds the registry GET /metrics exposes: Strata's collectors
// and the Go runtime's and process's.
func newMetrics() (*prometheus.Registry, *metrics.Metrics, error) {
	registry := prometheus.NewRegistry()
	if err := registry.Register(collectors.NewGoCollector()); err != nil {
		return nil, nil, fmt.Errorf("metrics: %w", err)
	}
	if err := registry.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, nil, fmt.Errorf("metrics: %w", err)
	}
	m, err := metrics.New(registry)
	if err != nil {
		return nil, nil, err
	}
	return registry, m, nil
}

// routerOptions turns router_settings into the router's options.
func routerOptions(rs config.Routing, log *slog.Logger, m *metrics.Metrics) router.Options {
	o := router.Options{
		Strategy:               rs.Strategy,
		AllowedFails:           rs.AllowedFails,
		CooldownTime:           rs.CooldownTime,
		DisableCooldowns:       rs.DisableCooldowns,
		RetryAfter:             rs.RetryAfter,
		Timeout:                rs.Timeout,
		StreamTimeout:          rs.StreamTimeout,
		StreamIdleTimeout:      rs.StreamIdleTimeout,
		Fallbacks:              fallbackMap(rs.Fallbacks),
		ContextWindowFallbacks: fallbackMap(rs.ContextWindowFallbacks),
		ContentPolicyFallbacks: fallbackMap(rs.ContentPolicyFallbacks),
		Aliases:                aliasMap(rs.Aliases),
		// A key limited to some models is never served by a fallback
		// outside them.
		MayServe: auth.CheckModel,
		Logger:   log,
		Metrics:  m,
	}
	if rs.NumRetries != nil {
		o.NumRetries = *rs.NumRetries
	}
	return o
}

// fallbackMap merges a fallbacks list by model name, in file order.
func fallbackMap(list []config.Fallback) map[string][]string {
	if len(list) == 0 {
		return nil
	}
	out := make(map[string][]string, len(list))
	for _, fb := range list {
		out[fb.Model] = append(out[fb.Model], fb.To...)
	}
	return out
}

// aliasMap is model_group_alias as alias -> model name.
func aliasMap(list []config.Alias) map[string]string {
	if len(list) == 0 {
		return nil
	}
	out := make(map[string]string, len(list))
	for _, a := range list {
		out[a.Name] = a.Model
	}
	return out
}

// deploymentPolicy is what the router needs from a deployment's litellm_params.
func deploymentPolicy(d config.Deployment) router.Policy {
	return router.Policy{
		RPM:           d.RPM,
		TPM:           d.TPM,
		MaxParallel:   d.MaxParallel,
		Weight:        d.Weight,
		Timeout:       d.Timeout,
		StreamTimeout: d.StreamTimeout,
		NumRetries:    d.MaxRetries,
	}
}
