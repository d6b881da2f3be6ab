package cluster

import (
	"context"
	"strings"
)

// KeyCache is a gateway's cache of keys, teams and users.
type KeyCache interface {
	InvalidateKey(token string) // token: the key's hash, never the key
	InvalidateTeam(teamID string)
	InvalidateUser(userID string)
	InvalidateAll()
}

const keysChannel = "keys"

// sharedKeyCache applies a change to this gateway's cache and publishes
// it to the others.
type sharedKeyCache struct {
	local KeyCache
	r     *Redis
}

// ShareKeyChanges subscribes local to the key changes other gateways
// publish until ctx ends, and returns the cache the admin routes must
// tell of changes made here: it drops the entry here and publishes the
// change. After an outage, when messages may have been missed, local is
// emptied.
func (r *Redis) ShareKeyChanges(ctx context.Context, local KeyCache) KeyCache {
	r.Subscribe(ctx, keysChannel, func(payload string) { applyKeyChange(local, payload) })
	r.OnRejoin(local.InvalidateAll)
	return &sharedKeyCache{local: local, r: r}
}

// applyKeyChange drops from local what a message from another gateway
// names, through Redis or PostgreSQL: "key:<token>", "team:<id>" or
// "user:<id>". Any other message ("all", or one this version does not
// know) empties local: a change is never ignored.
func applyKeyChange(local KeyCache, payload string) {
	kind, id, _ := strings.Cut(payload, ":")
	switch kind {
	case "key":
		local.InvalidateKey(id)
	case "team":
		local.InvalidateTeam(id)
	case "user":
		local.InvalidateUser(id)
	default:
		local.InvalidateAll()
	}
}

func (c *sharedKeyCache) publish(kind, id string) {
	if err := c.r.Publish(context.Background(), keysChannel, kind+":"+id); err != nil {
		c.r.log.Warn("could not tell the other gateways of a key change: they see it when their cached copy expires",
			"change", kind, "error", err.Error())
	}
}

func (c *sharedKeyCache) InvalidateKey(token string) {
	c.local.InvalidateKey(token)
	c.publish("key", token)
}

func (c *sharedKeyCache) InvalidateTeam(teamID string) {
	c.local.InvalidateTeam(teamID)
	c.publish("team", teamID)
}

func (c *sharedKeyCache) InvalidateUser(userID string) {
	c.local.InvalidateUser(userID)
	c.publish("user", userID)
}

func (c *sharedKeyCache) InvalidateAll() { c.local.InvalidateAll() }
