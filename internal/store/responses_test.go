package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/strata-gateway/strata/internal/store"
)

func TestResponses(t *testing.T) {
	forEachDriver(t, func(t *testing.T, ctx context.Context, s store.Store, url string) {
		first := &store.Response{ID: "resp_1", Owner: "tokenA", Body: []byte(`{"id":"resp_1","output":[{"type":"message","content":"caf\u00e9 \u0000 <b>"}]}`),
			Input: []byte(`[{"type":"message","role":"user","content":"hi"}]`), CreatedAt: t0}
		second := &store.Response{ID: "resp_2", Owner: "tokenA", PreviousResponseID: "resp_1", Body: []byte(`{"id":"resp_2"}`),
			Input: []byte(`[]`), CreatedAt: t0.Add(time.Second)}
		for _, r := range []*store.Response{first, second} {
			if err := s.PutResponse(ctx, r); err != nil {
				t.Fatalf("PutResponse %s: %v", r.ID, err)
			}
		}
		if err := s.PutResponse(ctx, first); !errors.Is(err, store.ErrConflict) {
			t.Errorf("storing an id twice: %v, want ErrConflict", err)
		}
		got, err := s.GetResponse(ctx, "tokenA", "resp_2")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, second) {
			t.Errorf("GetResponse = %+v, want %+v", got, second)
		}
		got, err = s.GetResponse(ctx, "tokenA", "resp_1")
		if err != nil || string(got.Body) != string(first.Body) || string(got.Input) != string(first.Input) {
			t.Errorf("GetResponse resp_1 = %+v, %v: the JSON must come back byte for byte", got, err)
		}

		// Another key, or no key, sees nothing and deletes nothing.
		for _, owner := range []string{"tokenB", ""} {
			if _, err := s.GetResponse(ctx, owner, "resp_1"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("owner %q read another key's response: %v", owner, err)
			}
			if err := s.DeleteResponse(ctx, owner, "resp_1"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("owner %q deleted another key's response: %v", owner, err)
			}
		}

		if err := s.DeleteResponse(ctx, "tokenA", "resp_1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetResponse(ctx, "tokenA", "resp_1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("read after delete: %v", err)
		}
		if err := s.DeleteResponse(ctx, "tokenA", "resp_1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second delete: %v", err)
		}

		// Expiry deletes what is older than the cut, whoever owns it.
		old := &store.Response{ID: "resp_old", Owner: "tokenB", Body: []byte(`{}`), Input: []byte(`[]`), CreatedAt: t0.Add(-time.Hour)}
		if err := s.PutResponse(ctx, old); err != nil {
			t.Fatal(err)
		}
		if n, err := s.DeleteResponsesBefore(ctx, t0.Add(time.Millisecond)); err != nil || n != 1 {
			t.Errorf("DeleteResponsesBefore = %d, %v; want 1 (resp_old; resp_1 is deleted already, resp_2 is newer)", n, err)
		}
		if _, err := s.GetResponse(ctx, "tokenB", "resp_old"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired response still there: %v", err)
		}

		// Kept across a restart.
		s.Close()
		reopened, err := store.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer reopened.Close()
		if got, err := reopened.GetResponse(ctx, "tokenA", "resp_2"); err != nil || got.PreviousResponseID != "resp_1" {
			t.Errorf("after reopening: %+v, %v", got, err)
		}
	})
}
