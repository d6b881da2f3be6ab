package app

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/strata-gateway/strata/internal/store"
)

// Stored responses older than the retention are deleted; younger ones stay.
func TestPruneResponses(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite::memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for id, age := range map[string]time.Duration{
		"resp_expired": responseRetention + time.Minute,
		"resp_kept":    responseRetention - time.Minute,
	} {
		r := &store.Response{ID: id, Owner: "k", Body: []byte(`{}`), Input: []byte(`[]`), CreatedAt: now.Add(-age)}
		if err := st.PutResponse(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	pruneResponses(ctx, st, now, slog.New(slog.DiscardHandler))
	if _, err := st.GetResponse(ctx, "k", "resp_expired"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an expired response is still stored: %v", err)
	}
	if _, err := st.GetResponse(ctx, "k", "resp_kept"); err != nil {
		t.Errorf("a response within the retention was deleted: %v", err)
	}

	// Started and stopped, the pruner has run once and is gone.
	r := &store.Response{ID: "resp_expired2", Owner: "k", Body: []byte(`{}`), Input: []byte(`[]`), CreatedAt: now.Add(-2 * responseRetention)}
	if err := st.PutResponse(ctx, r); err != nil {
		t.Fatal(err)
	}
	pruned := &prunedSignal{Responses: st, done: make(chan struct{}, 1)}
	stop := startPruningResponses(ctx, pruned, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	<-pruned.done
	stop()
	if _, err := st.GetResponse(ctx, "k", "resp_expired2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the pruner did not delete an expired response: %v", err)
	}
}

// prunedSignal says when a deletion of expired responses has finished.
type prunedSignal struct {
	store.Responses
	done chan struct{}
}

func (p *prunedSignal) DeleteResponsesBefore(ctx context.Context, t time.Time) (int64, error) {
	n, err := p.Responses.DeleteResponsesBefore(ctx, t)
	select {
	case p.done <- struct{}{}:
	default:
	}
	return n, err
}
