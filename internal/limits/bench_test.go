package limits

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkAdmitAndEnd is one request's admission and end with a key, a
// team and a user each setting rpm, tpm and max_parallel_requests: in
// this process's memory, in Redis one script each way (two round trips),
// and in Redis with the ends batched off the request's path, as gateways
// run (one round trip).
func BenchmarkAdmitAndEnd(b *testing.B) {
	scopes := []Scope{
		{Kind: "key", ID: "k", RPM: 1 << 40, TPM: 1 << 40, MaxParallel: 1 << 20},
		{Kind: "team", ID: "t", RPM: 1 << 40, TPM: 1 << 40, MaxParallel: 1 << 20},
		{Kind: "user", ID: "u", RPM: 1 << 40, TPM: 1 << 40, MaxParallel: 1 << 20},
	}
	run := func(b *testing.B, l *Limiter) {
		ctx := context.Background()
		for b.Loop() {
			lease, err := l.Admit(ctx, scopes, "m")
			if err != nil {
				b.Fatal(err)
			}
			lease.End(ctx, 100, 0)
		}
	}
	b.Run("memory", func(b *testing.B) { run(b, New(Options{})) })
	b.Run("redis", func(b *testing.B) {
		c := redisClientB(b)
		prefix := fmt.Sprintf("strata-bench:%d:", time.Now().UnixNano())
		run(b, New(Options{Counter: NewRedis(c, prefix, 2*time.Second)}))
	})
	b.Run("redis-batched", func(b *testing.B) {
		c := redisClientB(b)
		prefix := fmt.Sprintf("strata-bench:%d:", time.Now().UnixNano())
		batched := NewBatched(NewRedis(c, prefix, 2*time.Second), BatchOptions{})
		defer batched.Close(context.Background())
		run(b, New(Options{Counter: batched}))
	})
}
