package app

import (
	"context"
	"log/slog"

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
