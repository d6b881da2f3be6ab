package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// A logger whose With is deferred writes what slog's own handlers write.
func TestLazyLoggerWritesWhatSlogWrites(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	handlers := map[string]func(io.Writer) slog.Handler{
		"text": func(w io.Writer) slog.Handler {
			return slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})
		},
		"json": func(w io.Writer) slog.Handler {
			return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})
		},
	}
	uses := map[string]func(l *slog.Logger){
		"no attrs": func(l *slog.Logger) { logAt(l, at, slog.LevelInfo, "request", slog.Int("status", 200)) },
		"one With": func(l *slog.Logger) {
			logAt(l.With("request_id", "r1"), at, slog.LevelInfo, "request", slog.Int("status", 200))
		},
		"two Withs": func(l *slog.Logger) {
			logAt(l.With("request_id", "r1").With("model", "m", "n", 2), at, slog.LevelWarn, "failed")
		},
		"With, group, With": func(l *slog.Logger) {
			logAt(l.With("request_id", "r1").WithGroup("g").With("deployment", "d#1"), at, slog.LevelDebug, "call", slog.String("x", "y"))
		},
		"a parent's With is not changed by a child's": func(l *slog.Logger) {
			parent := l.With("a", 1)
			_ = parent.With("b", 2)
			logAt(parent.With("c", 3), at, slog.LevelInfo, "m")
			logAt(parent, at, slog.LevelInfo, "m")
		},
		"below the level": func(l *slog.Logger) { logAt(l.With("a", 1), at, slog.LevelDebug-4, "hidden") },
	}
	for hn, newHandler := range handlers {
		for un, use := range uses {
			t.Run(hn+"/"+un, func(t *testing.T) {
				var want, got bytes.Buffer
				use(slog.New(newHandler(&want)))
				use(lazyLogger(slog.New(newHandler(&got))))
				if got.String() != want.String() {
					t.Errorf("lazy logger wrote\n%s\nslog wrote\n%s", got.String(), want.String())
				}
			})
		}
	}
}

func logAt(l *slog.Logger, at time.Time, level slog.Level, msg string, attrs ...slog.Attr) {
	if !l.Enabled(context.Background(), level) {
		return
	}
	r := slog.NewRecord(at, level, msg, 0)
	r.AddAttrs(attrs...)
	_ = l.Handler().Handle(context.Background(), r)
}
