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
// process while it does not; nil without Redis. Requests' ends are sent
// to Redis in batches, off their path; stop sends the last ones.
func sharedCounter(r *cluster.Redis, log *slog.Logger) (counter limits.Counter, stop func(context.Context)) {
	if r == nil {
		return nil, func(context.Context) {}
	}
	mem := limits.NewMemory()
	batched := limits.NewBatched(limits.NewRedis(r.Client, cluster.Prefix, r.Timeout()),
		limits.BatchOptions{Failed: r.Down, Fallback: mem, Logger: log})
	counter = &limits.Failover{Primary: batched, Fallback: mem, Up: r.Up, Down: r.Down}
	return counter, func(ctx context.Context) {
		if err := batched.Close(ctx); err != nil {
			log.Error("rate limit counts not sent to Redis at shutdown", "error", err.Error())
		}
	}
}

// redisUp is the server's RedisUp; nil without Redis.
func redisUp(r *cluster.Redis) func() bool {
	if r == nil {
		return nil
	}
	return r.Up
}
