package cluster

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/strata-gateway/strata/internal/router"
)

// DefaultShareEvery is how often a gateway sends what it observed of its
// deployments and reads what all gateways did: the staleness of the
// figures usage-based and latency-based routing compare.
const DefaultShareEvery = 250 * time.Millisecond

// latencyTTL is how long a deployment's shared latency outlives its last
// measure.
const latencyTTL = 10 * time.Minute

//go:embed routing.lua
var routingLua string

var routingScript = redis.NewScript(routingLua)

// RoutingRouter is the router as sharing routing figures needs it.
type RoutingRouter interface {
	Observed() []router.Observed
	ShareFigures(figs []router.Figures, until time.Time)
}

// ShareRouting sends, every every (DefaultShareEvery if 0), what rt
// observed of its deployments (tokens, latencies) and gives rt what all
// gateways did, in one call, until ctx ends: off every request's path.
// The figures are fresh for two periods and a call's deadline; while
// Redis does not answer they go stale and rt routes on its own figures,
// and what it observed meanwhile is not shared later.
func (r *Redis) ShareRouting(ctx context.Context, rt RoutingRouter, every time.Duration) {
	if every <= 0 {
		every = DefaultShareEvery
	}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			obs := rt.Observed()
			if !r.Up() || len(obs) == 0 {
				continue
			}
			now := time.Now()
			figs, err := r.shareFigures(ctx, obs, now)
			if err != nil {
				if ctx.Err() == nil {
					r.Down(err)
				}
				continue
			}
			rt.ShareFigures(figs, now.Add(2*every+r.timeout))
		}
	}()
}

func usageKey(id string, minute time.Time) string {
	return Prefix + "usage:" + id + ":" + strconv.FormatInt(minute.Unix(), 10)
}

// shareFigures adds obs to the shared figures and reads them back.
func (r *Redis) shareFigures(ctx context.Context, obs []router.Observed, now time.Time) ([]router.Figures, error) {
	minute := now.Truncate(time.Minute)
	keys := make([]string, 0, 3*len(obs))
	args := make([]any, 0, 3+5*len(obs))
	// Tokens live through the next minute, which reads them as the one before.
	args = append(args, router.LatencyWeight, minute.Add(2*time.Minute+time.Second).Sub(now).Milliseconds(), latencyTTL.Milliseconds())
	for _, o := range obs {
		keys = append(keys, usageKey(o.ID, minute), usageKey(o.ID, minute.Add(-time.Minute)), Prefix+"latency:"+o.ID)
		args = append(args, o.Tokens, o.Latency.N, o.Latency.Sum, o.TimeToFirstToken.N, o.TimeToFirstToken.Sum)
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	res, err := routingScript.Run(ctx, r.Client, keys, args...).Slice()
	if err != nil {
		return nil, fmt.Errorf("redis: routing figures: %w", err)
	}
	if len(res) != 4*len(obs) {
		return nil, fmt.Errorf("redis: routing figures: %d values for %d deployments", len(res), len(obs))
	}
	figs := make([]router.Figures, len(obs))
	for i, o := range obs {
		v := res[4*i : 4*i+4]
		figs[i] = router.Figures{ID: o.ID, Window: minute, Tokens: asInt(v[0]), PrevTokens: asInt(v[1]),
			Latency: asFloat(v[2]), TimeToFirstToken: asFloat(v[3])}
	}
	return figs, nil
}

func asInt(v any) int64 {
	n, _ := v.(int64)
	return n
}

func asFloat(v any) float64 {
	s, _ := v.(string)
	f, _ := strconv.ParseFloat(s, 64)
	return f
}
