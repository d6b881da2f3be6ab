package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/strata-gateway/strata/internal/config"
	"github.com/strata-gateway/strata/internal/store"
)

// demoDatabaseURL keeps the demo's stored responses in memory: the demo
// writes no files.
const demoDatabaseURL = "sqlite::memory:"

// openResponses returns where stored responses (the Responses API's
// store: true, its default) are kept: the database of keys and spend when
// there is one; otherwise the default SQLite file, opened for them alone.
// A default that cannot be opened is logged and leaves responses unkept
// rather than stopping the gateway. close releases what was opened here.
func openResponses(ctx context.Context, cfg *config.Config, shared store.Store, log *slog.Logger) (responses store.Responses, close func()) {
	if shared != nil {
		return shared, func() {}
	}
	url := databaseURL(cfg)
	if cfg.Path == demoConfigPath {
		url = demoDatabaseURL
	}
	st, err := store.Open(ctx, url)
	if err != nil {
		log.Warn("stored responses are off: the default database could not be opened; set general_settings.database_url",
			"url", store.Redact(url), "error", err.Error())
		return nil, func() {}
	}
	log.Info("stored responses kept in the database", "driver", st.Driver(), "url", store.Redact(url))
	return st, func() { st.Close() }
}

// responseRetention is how long a stored response is kept: 30 days, as on
// OpenAI. Older ones are deleted every pruneResponsesEvery.
const (
	responseRetention   = 30 * 24 * time.Hour
	pruneResponsesEvery = time.Hour
)

// startPruningResponses deletes expired responses now and then every
// pruneResponsesEvery, until the returned stop is called; stop waits for a
// deletion under way, so the store can be closed after it.
func startPruningResponses(ctx context.Context, st store.Responses, now func() time.Time, log *slog.Logger) (stop func()) {
	if st == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(pruneResponsesEvery)
		defer tick.Stop()
		for {
			pruneResponses(ctx, st, now(), log)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// pruneResponses deletes the responses stored longer than responseRetention
// before now. A failure is logged; the next round tries again.
func pruneResponses(ctx context.Context, st store.Responses, now time.Time, log *slog.Logger) {
	n, err := st.DeleteResponsesBefore(ctx, now.Add(-responseRetention))
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("could not delete expired stored responses; trying again later", "error", err.Error())
		}
		return
	}
	if n > 0 {
		log.Info("expired stored responses deleted", "count", n, "retention_days", int(responseRetention/(24*time.Hour)))
	}
}
