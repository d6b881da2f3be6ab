// Package cluster is what several gateways share through one Redis
// server: the connection and whether it answers, and the messages they
// send one another (key changes, cooldowns, the deployments' routing
// figures); and the key changes they hear of through the PostgreSQL they
// share, without Redis too (KeyListener). It keeps no limits' counts
// itself (internal/limits does) and never decides a request: when Redis
// is down, everything that uses it goes on with this process's own view.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Defaults for Options.
const (
	// DefaultCallTimeout bounds every call to Redis: a slow Redis costs a
	// request at most this, then the gateway counts on its own.
	DefaultCallTimeout = 500 * time.Millisecond
	// DefaultPingEvery is how often Redis is pinged, to notice an outage
	// without traffic and a return at all.
	DefaultPingEvery = time.Second
	// Prefix starts every key and channel Strata uses.
	Prefix = "strata:"
)

// Options configures a Redis connection.
type Options struct {
	URL         string // redis://[:password@]host:port[/db] or rediss://
	Address     string // host:port for logs; never the password
	CallTimeout time.Duration
	PingEvery   time.Duration
	Logger      *slog.Logger
	// Registerer gets the strata_redis_up gauge; nil: none.
	Registerer prometheus.Registerer
}

// Redis is the shared server and what this gateway knows of its health.
type Redis struct {
	Client  *redis.Client
	timeout time.Duration
	every   time.Duration
	address string
	log     *slog.Logger
	gauge   prometheus.Gauge

	up       atomic.Bool
	mu       sync.Mutex
	onRejoin []func()
	wake     chan struct{}
}

// New connects to Redis. It fails only on a URL it cannot read: a server
// that does not answer yet makes a gateway that starts on its own counts
// and joins when it does.
func New(ctx context.Context, o Options) (*Redis, error) {
	opts, err := redis.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	r := &Redis{timeout: o.CallTimeout, every: o.PingEvery, address: o.Address, log: o.Logger, wake: make(chan struct{}, 1)}
	if r.timeout <= 0 {
		r.timeout = DefaultCallTimeout
	}
	if r.every <= 0 {
		r.every = DefaultPingEvery
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout = r.timeout, r.timeout, r.timeout, r.timeout
	opts.MaxRetries = -1 // a failed call falls back at once; the ping loop finds the server again
	opts.ContextTimeoutEnabled = true
	r.Client = redis.NewClient(opts)
	if o.Registerer != nil {
		r.gauge = prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "strata_redis_up",
			Help: "1 while the Redis server the gateways share answers; 0 while this gateway counts limits on its own.",
		})
		if err := o.Registerer.Register(r.gauge); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	if err := r.ping(ctx); err != nil {
		r.log.Warn("Redis does not answer: limits, key changes and cooldowns are this gateway's own until it does",
			"redis", r.address, "error", err.Error())
		r.setGauge(false)
	} else {
		r.up.Store(true)
		r.setGauge(true)
		r.log.Info("Redis ready: limits, key changes and cooldowns are shared with the other gateways", "redis", r.address)
	}
	return r, nil
}

// Address is the server's host:port.
func (r *Redis) Address() string { return r.address }

// Timeout is the deadline of every call.
func (r *Redis) Timeout() time.Duration { return r.timeout }

// Up says whether Redis answered its last call.
func (r *Redis) Up() bool { return r.up.Load() }

// Down reports a failed call: the first one after Redis answered is
// logged, the gauge drops, and the ping loop watches for its return.
func (r *Redis) Down(err error) {
	if errors.Is(err, context.Canceled) {
		return // the client left; Redis is not to blame
	}
	if r.up.CompareAndSwap(true, false) {
		r.setGauge(false)
		r.log.Warn("Redis unreachable: counting limits in this gateway alone until it answers again",
			"redis", r.address, "error", err.Error())
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// OnRejoin registers f to run each time Redis answers again after an
// outage, to catch up on the messages missed meanwhile.
func (r *Redis) OnRejoin(f func()) {
	r.mu.Lock()
	r.onRejoin = append(r.onRejoin, f)
	r.mu.Unlock()
}

func (r *Redis) setGauge(up bool) {
	if r.gauge == nil {
		return
	}
	if up {
		r.gauge.Set(1)
	} else {
		r.gauge.Set(0)
	}
}

func (r *Redis) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return r.Client.Ping(ctx).Err()
}

// Run pings Redis until ctx ends, to notice it leave and come back.
func (r *Redis) Run(ctx context.Context) {
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.wake:
		}
		if err := r.ping(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			r.Down(err)
			continue
		}
		if r.up.CompareAndSwap(false, true) {
			r.setGauge(true)
			r.log.Info("Redis answers again: limits, key changes and cooldowns are shared again", "redis", r.address)
			r.mu.Lock()
			hooks := append([]func(){}, r.onRejoin...)
			r.mu.Unlock()
			for _, f := range hooks {
				f()
			}
		}
	}
}

// Publish sends payload on channel (under Prefix), within the call
// deadline. A failure is reported and returned; the caller's own change
// has happened already.
func (r *Redis) Publish(ctx context.Context, channel, payload string) error {
	if !r.Up() {
		return errors.New("redis: unreachable")
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
	defer cancel()
	if err := r.Client.Publish(ctx, Prefix+channel, payload).Err(); err != nil {
		r.Down(err)
		return fmt.Errorf("redis: publish: %w", err)
	}
	return nil
}

// Subscribe calls handle with every message on channel (under Prefix)
// until ctx ends. The subscription outlives outages: go-redis connects
// again and subscribes anew.
func (r *Redis) Subscribe(ctx context.Context, channel string, handle func(payload string)) {
	ps := r.Client.Subscribe(ctx, Prefix+channel)
	go func() {
		defer ps.Close()
		ch := ps.Channel(redis.WithChannelHealthCheckInterval(5 * time.Second))
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				handle(m.Payload)
			}
		}
	}()
}

// Close closes the connections.
func (r *Redis) Close() error { return r.Client.Close() }
