package app

import (
	"context"
	"log/slog"
	"os"
)

type reloadKey struct{}

// WithReloadSignal hands Run the channel on which the process receives
// SIGHUP. Log rotators and `systemctl reload` send it; it must never end
// the gateway.
func WithReloadSignal(ctx context.Context, signals <-chan os.Signal) context.Context {
	return context.WithValue(ctx, reloadKey{}, signals)
}

// answerReloads handles SIGHUP until ctx ends. Reloading the config is
// where a reload would go; until it exists the signal is logged, and the
// gateway goes on serving the config it loaded at start.
func answerReloads(ctx context.Context, log *slog.Logger, configPath string) {
	signals, _ := ctx.Value(reloadKey{}).(<-chan os.Signal)
	if signals == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-signals:
			log.Warn("SIGHUP received: reloading the config is not supported; still serving the config loaded at start", "config", configPath)
		}
	}
}
