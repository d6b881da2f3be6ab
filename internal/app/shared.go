package app

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-gateway/strata/internal/cluster"
	"github.com/strata-gateway/strata/internal/config"
	"github.com/strata-gateway/strata/internal/limits"
)

// openShared connects to the Redis server the config names, and watches
// it until ctx ends; nil when none is configured.
func openShared(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, log *slog.Logger) (*cluster.Redis, error) {
	rc := cfg.Settings.Redis
	if !rc.Enabled() {
		return nil, nil
	}
	r, err := cluster.New(ctx, cluster.Options{URL: rc.ClientURL(), Address: rc.Address(), Logger: log, Registerer: reg})
	if err != nil {
		return nil, err
	}
	go r.Run(ctx)
	return r, nil
}

// sharedCounter counts limits in Redis while it answers, and in this
// process while it does not; nil without Redis.
func sharedCounter(r *cluster.Redis) limits.Counter {
	if r == nil {
		return nil
	}
	return &limits.Failover{
		Primary:  limits.NewRedis(r.Client, cluster.Prefix, r.Timeout()),
		Fallback: limits.NewMemory(),
		Up:       r.Up,
		Down:     r.Down,
	}
}

// redisUp is the server's RedisUp; nil without Redis.
func redisUp(r *cluster.Redis) func() bool {
	if r == nil {
		return nil
	}
	return r.Up
}
