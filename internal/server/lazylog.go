package server

import (
	"context"
	"log/slog"
)

// lazyAttrs is a slog.Handler whose WithAttrs only remembers the attrs.
// slog's own handlers format them the moment Logger.With is called, which
// a request pays for several times (its model, its deployment) although
// at the default level most requests log nothing but the access line.
// Here they are formatted with a record that is written, as if they had
// been given before its own attrs: the output is the same.
type lazyAttrs struct {
	next  slog.Handler
	attrs []slog.Attr // oldest first; never appended to in place
}

// lazyLogger returns l with a handler whose WithAttrs defers the work.
func lazyLogger(l *slog.Logger) *slog.Logger {
	if _, ok := l.Handler().(*lazyAttrs); ok {
		return l
	}
	return slog.New(&lazyAttrs{next: l.Handler()})
}

func (h *lazyAttrs) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *lazyAttrs) Handle(ctx context.Context, r slog.Record) error {
	if len(h.attrs) == 0 {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(a)
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *lazyAttrs) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	all := make([]slog.Attr, 0, len(h.attrs)+len(attrs))
	all = append(append(all, h.attrs...), attrs...)
	return &lazyAttrs{next: h.next, attrs: all}
}

// WithGroup hands the attrs so far to the next handler first: they stay
// outside the group.
func (h *lazyAttrs) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	next := h.next
	if len(h.attrs) > 0 {
		next = next.WithAttrs(h.attrs)
	}
	return &lazyAttrs{next: next.WithGroup(name)}
}
