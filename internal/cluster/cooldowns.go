package cluster

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// CooldownRouter is the router as cooldown sharing needs it.
type CooldownRouter interface {
	ShareCooldowns(func(deploymentID string, until time.Time))
	CoolDown(deploymentID string, until time.Time) bool
}

const cooldownsChannel = "cooldowns"

func cooldownKey(id string) string { return Prefix + "cooldown:" + id }

// ShareCooldowns makes the cooldowns rt starts known to the other
// gateways, and theirs to rt, until ctx ends. A cooldown is published
// and kept as a key that expires with it; each gateway keeps its own copy,
// so that picking a deployment costs no call to Redis. On start and after
// an outage, the cooldowns running are read from their keys.
func (r *Redis) ShareCooldowns(ctx context.Context, rt CooldownRouter) {
	r.Subscribe(ctx, cooldownsChannel, func(payload string) {
		ms, id, ok := strings.Cut(payload, " ")
		if !ok {
			return
		}
		n, err := strconv.ParseInt(ms, 10, 64)
		if err != nil {
			return
		}
		rt.CoolDown(id, time.UnixMilli(n))
	})
	rt.ShareCooldowns(func(id string, until time.Time) {
		// Off the request's path: the request that failed has its answer to give.
		go r.publishCooldown(id, until)
	})
	load := func() { r.loadCooldowns(ctx, rt) }
	r.OnRejoin(load)
	load()
}

func (r *Redis) publishCooldown(id string, until time.Time) {
	if !r.Up() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	payload := strconv.FormatInt(until.UnixMilli(), 10) + " " + id
	pipe := r.Client.Pipeline()
	pipe.Set(ctx, cooldownKey(id), until.UnixMilli(), 0)
	pipe.PExpireAt(ctx, cooldownKey(id), until)
	pipe.Publish(ctx, Prefix+cooldownsChannel, payload)
	if _, err := pipe.Exec(ctx); err != nil {
		r.Down(err)
		r.log.Warn("could not tell the other gateways of a cooldown", "deployment", id, "error", err.Error())
	}
}

// loadCooldowns reads the cooldowns running into rt.
func (r *Redis) loadCooldowns(ctx context.Context, rt CooldownRouter) {
	if !r.Up() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 4*r.timeout)
	defer cancel()
	var keys []string
	iter := r.Client.Scan(ctx, 0, cooldownKey("*"), 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		r.Down(err)
		return
	}
	if len(keys) == 0 {
		return
	}
	vals, err := r.Client.MGet(ctx, keys...).Result()
	if err != nil {
		r.Down(err)
		return
	}
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			rt.CoolDown(strings.TrimPrefix(keys[i], cooldownKey("")), time.UnixMilli(n))
		}
	}
}
