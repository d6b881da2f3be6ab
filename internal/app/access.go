package app

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-gateway/strata/internal/auth"
	"github.com/strata-gateway/strata/internal/cluster"
	"github.com/strata-gateway/strata/internal/config"
	"github.com/strata-gateway/strata/internal/keys"
	"github.com/strata-gateway/strata/internal/store"
)

// masterKeyEnv are the variables a master key may come from when the
// config does not set general_settings.master_key.
var masterKeyEnv = []string{"STRATA_MASTER_KEY", "LITELLM_MASTER_KEY"}

// databaseURLEnv are the variables database_url may come from, as LiteLLM
// reads DATABASE_URL.
var databaseURLEnv = []string{"STRATA_DATABASE_URL", "DATABASE_URL"}

// applyAccessEnv fills master_key and database_url from the environment
// when the config leaves them out.
func applyAccessEnv(cfg *config.Config, lookupEnv func(string) (string, bool)) {
	if cfg.Settings.MasterKey == "" {
		for _, name := range masterKeyEnv {
			if v, ok := lookupEnv(name); ok && v != "" {
				cfg.Settings.MasterKey = config.Secret(v)
				break
			}
		}
	}
	if cfg.Settings.DatabaseURL == "" {
		for _, name := range databaseURLEnv {
			if v, ok := lookupEnv(name); ok && v != "" {
				cfg.Settings.DatabaseURL = config.Secret(v)
				break
			}
		}
	}
}

// DefaultDatabaseFile is the SQLite file kept next to the config file (or
// in the working directory) when database_url is not set.
const DefaultDatabaseFile = "strata.db"

// databaseURL is where keys and spend live: database_url, else the
// default SQLite file.
func databaseURL(cfg *config.Config) string {
	if u := cfg.Settings.DatabaseURL.Value(); u != "" {
		return u
	}
	dir := "."
	if cfg.Path != "" && cfg.Path != demoConfigPath {
		dir = filepath.Dir(cfg.Path)
	}
	return "sqlite://" + filepath.Join(dir, DefaultDatabaseFile)
}

// access is the gateway's authentication and the store behind it; all nil
// when no master key is set.
type access struct {
	store store.Store
	auth  *auth.Authenticator
	admin *keys.Service
	// listener hears of the key changes other gateways make, on PostgreSQL.
	listener     *cluster.KeyListener
	stopListener func()
}

func (a *access) Close() {
	if a == nil {
		return
	}
	if a.stopListener != nil {
		a.stopListener()
	}
	if a.store != nil {
		a.store.Close()
	}
}

// listening is the server's KeyListenerUp; nil when no listener runs.
func (a *access) listening() func() bool {
	if a == nil || a.listener == nil {
		return nil
	}
	return a.listener.Listening
}

// openAccess opens the database and builds the key check when the config
// sets a master key (or a database_url).
// With shared, key changes made here reach the other gateways' caches,
// and theirs this one's; on PostgreSQL they do through the database too.
func openAccess(ctx context.Context, cfg *config.Config, log *slog.Logger, reg prometheus.Registerer, shared *cluster.Redis) (*access, error) {
	master := cfg.Settings.MasterKey.Value()
	if master == "" && cfg.Settings.DatabaseURL == "" {
		return &access{}, nil
	}
	url := databaseURL(cfg)
	st, err := store.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("general_settings.database_url: %w", err)
	}
	log.Info("database ready", "driver", st.Driver(), "url", store.Redact(url))
	a := &access{store: st}
	if master == "" {
		log.Warn("general_settings.database_url is set but master_key is not: every client is served without a key")
		return a, nil
	}
	a.auth = auth.New(auth.Options{MasterKey: master, Store: st, Logger: log, CacheTTL: cfg.Settings.KeyCacheTTL})
	var cache keys.Invalidator = a.auth
	if shared != nil {
		cache = shared.ShareKeyChanges(ctx, a.auth)
	}
	a.admin = keys.New(keys.Options{Store: st, Cache: cache, Logger: log})
	if st.Driver() == "postgres" {
		// The store announces every change it writes; this hears the
		// other gateways' announcements (and this one's, harmlessly).
		l, err := cluster.NewKeyListener(cluster.ListenOptions{DatabaseURL: url, Logger: log, Registerer: reg})
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("general_settings.database_url: %w", err)
		}
		lctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { l.Run(lctx, a.auth); close(done) }()
		a.listener, a.stopListener = l, func() { cancel(); <-done }
		select { // bounded: the listener's calls have deadlines
		case <-l.Tried():
		case <-ctx.Done():
		}
	}
	log.Info("authentication on: every model and admin route needs the master key or a virtual key")
	return a, nil
}
