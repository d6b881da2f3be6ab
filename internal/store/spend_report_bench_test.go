package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-gateway/strata/internal/store"
)

// BenchmarkSpendPages1M measures what the admin page asks of a SQLite
// database holding a million spend logs over 30 days, from 2,000 keys in
// 200 teams on 4 models: a month's report per key (whole, and the 8 keys
// that spent most with the others summed, as the page's chart asks), team
// and model, the first and a deep page of recent requests, filtered or
// not, and their counts. Seeding goes through InsertSpendLogs, as the gateway writes:
//
//	go test -run '^$' -bench SpendPages1M -benchtime 20x ./internal/store/
func BenchmarkSpendPages1M(b *testing.B) {
	ctx := context.Background()
	s, err := store.Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const rows, keys, teams, days = 1_000_000, 2000, 200, 30
	models := []string{"claude-sonnet", "claude-haiku", "nova-pro", "titan-embed"}
	end := time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)
	start := end.AddDate(0, 0, -days)
	for k := range keys {
		key := &store.Key{Token: fmt.Sprintf("key-%04d", k), KeyName: "sk-...", Alias: fmt.Sprintf("svc-%04d", k),
			TeamID: fmt.Sprintf("team-%03d", k%teams), CreatedAt: start, UpdatedAt: start}
		if err := s.CreateKey(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
	seedStart := time.Now()
	step := end.Sub(start) / rows
	batch := make([]store.SpendLog, 0, 5000)
	for i := range rows {
		at := start.Add(time.Duration(i) * step)
		k := (i * 7919) % keys
		status := "success"
		if i%50 == 0 {
			status = "failure"
		}
		batch = append(batch, store.SpendLog{ID: fmt.Sprintf("log-%07d", i), RequestID: fmt.Sprintf("req-%07d", i),
			KeyHash: fmt.Sprintf("key-%04d", k), KeyAlias: fmt.Sprintf("svc-%04d", k), TeamID: fmt.Sprintf("team-%03d", k%teams),
			Model: models[i%len(models)], Deployment: models[i%len(models)] + "#1", PromptTokens: 400, CompletionTokens: 120,
			Cost: 0.0021, StartTime: at, EndTime: at.Add(800 * time.Millisecond), Status: status})
		if len(batch) == cap(batch) {
			if _, err := s.InsertSpendLogs(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	seeded := time.Since(seedStart)
	b.Logf("seeded %d spend logs in %v (%.0f rows/s, InsertSpendLogs in batches of 5000)", rows, seeded.Round(time.Millisecond), rows/seeded.Seconds())

	month := store.SpendReportFilter{StartDay: start.Format(time.DateOnly), EndDay: end.Format(time.DateOnly)}
	for _, c := range []struct {
		name string
		run  func() error
	}{
		{"report/by-key", func() error { f := month; f.GroupBy = store.GroupByKey; _, err := s.SpendReport(ctx, f); return err }},
		{"report/by-key-top-8", func() error {
			f := month
			f.GroupBy, f.Top = store.GroupByKey, 8
			_, err := s.SpendReport(ctx, f)
			return err
		}},
		{"report/by-team", func() error { f := month; f.GroupBy = store.GroupByTeam; _, err := s.SpendReport(ctx, f); return err }},
		{"report/by-model", func() error { f := month; f.GroupBy = store.GroupByModel; _, err := s.SpendReport(ctx, f); return err }},
		{"report/one-key", func() error { f := month; f.KeyHash = "key-0042"; _, err := s.SpendReport(ctx, f); return err }},
		{"logs/first-page", func() error {
			_, err := s.QuerySpendLogs(ctx, store.SpendFilter{NewestFirst: true, Limit: 25})
			return err
		}},
		{"logs/page-1000", func() error {
			_, err := s.QuerySpendLogs(ctx, store.SpendFilter{NewestFirst: true, Limit: 25, Offset: 25 * 999})
			return err
		}},
		{"logs/count-all", func() error { _, err := s.CountSpendLogs(ctx, store.SpendFilter{}); return err }},
		{"logs/one-key-page", func() error {
			_, err := s.QuerySpendLogs(ctx, store.SpendFilter{KeyHash: "key-0042", NewestFirst: true, Limit: 25})
			return err
		}},
		{"logs/one-key-count", func() error { _, err := s.CountSpendLogs(ctx, store.SpendFilter{KeyHash: "key-0042"}); return err }},
		{"logs/model-page", func() error {
			_, err := s.QuerySpendLogs(ctx, store.SpendFilter{Model: "nova-pro", NewestFirst: true, Limit: 25})
			return err
		}},
		{"logs/model-count", func() error { _, err := s.CountSpendLogs(ctx, store.SpendFilter{Model: "nova-pro"}); return err }},
		{"logs/failures-page", func() error {
			_, err := s.QuerySpendLogs(ctx, store.SpendFilter{Status: "failure", NewestFirst: true, Limit: 25})
			return err
		}},
		{"logs/failures-count", func() error { _, err := s.CountSpendLogs(ctx, store.SpendFilter{Status: "failure"}); return err }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := c.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
