package store_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/strata-gateway/strata/internal/spend"
	"github.com/strata-gateway/strata/internal/store"
	"github.com/strata-gateway/strata/internal/store/storetest"
)

// BenchmarkInsertSpendLogs is what a spend log row costs on SQLite, written
// in batches of 1,000 as the gateway writes them into a table that already
// holds 200,000 rows: with the ids the gateway gives rows and requests
// (time-ordered), and with random ones. cpu-ns/row is the process's CPU
// time (user and system) per row.
func BenchmarkInsertSpendLogs(b *testing.B) {
	for _, ids := range []struct {
		name string
		id   func(time.Time) string
	}{{"time-ordered", spend.NewID}, {"random", func(time.Time) string { return rand.Text() }}} {
		b.Run("ids="+ids.name, func(b *testing.B) {
			benchInsertSpendLogs(b, "sqlite://"+filepath.Join(b.TempDir(), "bench.db"), ids.id)
		})
	}
}

// BenchmarkInsertSpendLogsPostgres is the same on the PostgreSQL server
// the tests use (STRATA_TEST_POSTGRES_URL), with time-ordered ids:
// cpu-ns/row is what the gateway's process spends, the server's work is
// its own.
func BenchmarkInsertSpendLogsPostgres(b *testing.B) {
	benchInsertSpendLogs(b, storetest.PostgresURL(b), spend.NewID)
}

func benchInsertSpendLogs(b *testing.B, databaseURL string, id func(time.Time) string) {
	ctx := context.Background()
	s, err := store.Open(ctx, databaseURL)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateKey(ctx, &store.Key{Token: "key-token", Alias: "bench"}); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	batch := func() []store.SpendLog {
		rows := make([]store.SpendLog, 1000)
		for i := range rows {
			now = now.Add(100 * time.Microsecond)
			rows[i] = store.SpendLog{ID: id(now), RequestID: id(now), KeyHash: "key-token", KeyAlias: "bench",
				Model: "bedrock-claude", Deployment: "bedrock-claude#0", BedrockModel: "anthropic.claude-3-5-sonnet-20240620-v1:0",
				PromptTokens: 120, CompletionTokens: 40, Cost: 0.00096, StartTime: now, EndTime: now, Status: "success"}
		}
		return rows
	}
	for range 200 {
		if _, err := s.InsertSpendLogs(ctx, batch()); err != nil {
			b.Fatal(err)
		}
	}
	batches := make([][]store.SpendLog, b.N)
	for i := range batches {
		batches[i] = batch()
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.InsertSpendLogs(ctx, batches[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*1000), "cpu-ns/row")
}

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
