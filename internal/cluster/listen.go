package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-gateway/strata/internal/store"
)

// Defaults for ListenOptions.
const (
	// DefaultListenCallTimeout bounds connecting, LISTEN and each ping.
	DefaultListenCallTimeout = 5 * time.Second
	// DefaultListenPingAfter is how long the connection may stay silent
	// before it is pinged, to notice a connection that died without a word.
	DefaultListenPingAfter = 10 * time.Second
	// DefaultListenRetryMin and DefaultListenRetryMax bound the wait
	// between attempts to connect again, which doubles with each failure.
	DefaultListenRetryMin = 250 * time.Millisecond
	DefaultListenRetryMax = 10 * time.Second
	// ListenerApplicationName is the listening connection's
	// application_name, as pg_stat_activity shows it.
	ListenerApplicationName = "strata key changes"
)

// ListenOptions configures a KeyListener.
type ListenOptions struct {
	DatabaseURL string // postgres:// or postgresql://
	CallTimeout time.Duration
	PingAfter   time.Duration
	RetryMin    time.Duration
	RetryMax    time.Duration
	Logger      *slog.Logger
	// Registerer gets the strata_postgres_listener_up gauge; nil: none.
	Registerer prometheus.Registerer
}

// KeyListener holds one connection to PostgreSQL that listens for the
// key changes the gateways sharing the database announce
// (store.KeyChangesChannel), and drops what changed from this gateway's
// cache. It never stands in a request's way: it has its own connection
// and goroutine, and only touches the cache.
type KeyListener struct {
	cfg       *pgx.ConnConfig
	timeout   time.Duration
	pingAfter time.Duration
	retryMin  time.Duration
	retryMax  time.Duration
	log       *slog.Logger
	gauge     prometheus.Gauge
	up        atomic.Bool
	// tried is closed once the first connection listens or fails.
	tried     chan struct{}
	triedOnce sync.Once
}

// NewKeyListener reads o; it fails only on a URL it cannot read or a
// gauge it cannot register. Run connects.
func NewKeyListener(o ListenOptions) (*KeyListener, error) {
	cfg, err := pgx.ParseConfig(o.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("database_url %s: %v", store.Redact(o.DatabaseURL), redactPassword(err, o.DatabaseURL))
	}
	cfg.RuntimeParams["application_name"] = ListenerApplicationName
	l := &KeyListener{cfg: cfg, timeout: o.CallTimeout, pingAfter: o.PingAfter, retryMin: o.RetryMin, retryMax: o.RetryMax, log: o.Logger,
		tried: make(chan struct{})}
	if l.timeout <= 0 {
		l.timeout = DefaultListenCallTimeout
	}
	if l.pingAfter <= 0 {
		l.pingAfter = DefaultListenPingAfter
	}
	if l.retryMin <= 0 {
		l.retryMin = DefaultListenRetryMin
	}
	if l.retryMax < l.retryMin {
		l.retryMax = max(DefaultListenRetryMax, l.retryMin)
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	cfg.ConnectTimeout = l.timeout
	if o.Registerer != nil {
		l.gauge = prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "strata_postgres_listener_up",
			Help: "1 while this gateway listens on PostgreSQL for the key changes the others make; 0 while it connects again.",
		})
		if err := o.Registerer.Register(l.gauge); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return l, nil
}

// redactPassword keeps a driver error's text but never the password it may quote.
func redactPassword(err error, databaseURL string) string {
	msg := err.Error()
	if cfg, perr := pgconn.ParseConfig(databaseURL); perr == nil && cfg.Password != "" {
		msg = strings.ReplaceAll(msg, cfg.Password, "xxxxx")
	}
	return msg
}

// Tried is closed once Run's first connection listens or fails. A gateway
// waits for it before serving: the first LISTEN empties the cache, which
// must happen before keys are cached, not under the first requests.
func (l *KeyListener) Tried() <-chan struct{} { return l.tried }

func (l *KeyListener) markTried() { l.triedOnce.Do(func() { close(l.tried) }) }

// Listening says whether the listening connection is up.
func (l *KeyListener) Listening() bool { return l.up.Load() }

// Run listens until ctx ends, applying each change to local. A lost
// connection is logged once and made again, waiting longer after each
// failure; once it listens again, local is emptied, since changes
// announced meanwhile were missed.
func (l *KeyListener) Run(ctx context.Context, local KeyCache) {
	wait := l.retryMin
	lost := false // logged that the connection was lost or never made
	for {
		listened, err := l.listen(ctx, local, lost)
		l.markTried()
		l.setUp(false)
		if ctx.Err() != nil {
			return
		}
		if listened {
			wait, lost = l.retryMin, false
		}
		if !lost {
			lost = true
			l.log.Warn("not listening for key changes on PostgreSQL: changes made through other gateways show here when their cached copy expires, until the connection is back",
				"error", redactPassword(err, l.cfg.ConnString()))
		} else {
			l.log.Debug("key changes listener: connecting again failed", "error", redactPassword(err, l.cfg.ConnString()), "next_try_in", wait.String())
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(wait*2, l.retryMax)
	}
}

// listen connects, listens and applies changes until the connection
// fails or ctx ends; listened says whether it got as far as listening.
func (l *KeyListener) listen(ctx context.Context, local KeyCache, wasLost bool) (listened bool, err error) {
	callCtx, cancel := context.WithTimeout(ctx, l.timeout)
	conn, err := pgx.ConnectConfig(callCtx, l.cfg)
	cancel()
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
		defer cancel()
		conn.Close(closeCtx)
	}()
	callCtx, cancel = context.WithTimeout(ctx, l.timeout)
	_, err = conn.Exec(callCtx, "LISTEN "+pgx.Identifier{store.KeyChangesChannel}.Sanitize())
	cancel()
	if err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	// Changes announced while nothing listened are lost: whatever the
	// cache holds may be stale.
	local.InvalidateAll()
	l.setUp(true)
	l.markTried()
	if wasLost {
		l.log.Info("listening for key changes on PostgreSQL again: this gateway's key cache was emptied, in case it missed some")
	} else {
		l.log.Info("listening for key changes on PostgreSQL: keys, teams and users changed through other gateways are dropped from the cache at once")
	}
	for {
		waitCtx, cancel := context.WithTimeout(ctx, l.pingAfter)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case err == nil:
			applyKeyChange(local, n.Payload)
			continue
		case ctx.Err() != nil:
			return true, ctx.Err()
		case !pgconn.Timeout(err):
			return true, err
		}
		// Silent for a while: make sure the connection still answers.
		callCtx, cancel := context.WithTimeout(ctx, l.timeout)
		err = conn.Ping(callCtx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return true, ctx.Err()
			}
			return true, fmt.Errorf("ping: %w", err)
		}
	}
}

func (l *KeyListener) setUp(up bool) {
	l.up.Store(up)
	if l.gauge == nil {
		return
	}
	if up {
		l.gauge.Set(1)
	} else {
		l.gauge.Set(0)
	}
}
