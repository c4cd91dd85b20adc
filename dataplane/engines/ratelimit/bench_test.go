package ratelimit

import (
	"context"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/policy/kinds"
)

func BenchmarkServe(b *testing.B) {
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		batch engine.Batch
	}{
		{"get", enginetest.Lines("GET user:1")},
		{"pipeline", enginetest.Lines("GET user:1", "SET user:2 v", "GET user:3", "INCR user:4")},
	} {
		b.Run(c.name, func(b *testing.B) {
			// A rate no benchmark reaches, so every request is admitted
			// and the cost measured is the bucket arithmetic.
			l := &Limiter{ops: newBucket(1e12, 1), bytes: newBucket(1e15, 1), env: &engine.Env{},
				next: enginetest.NewStatic(enginetest.OK), now: func() time.Duration { return time.Since(epoch) }, sleep: sleepCtx}
			b.ReportAllocs()
			for b.Loop() {
				l.Serve(ctx, c.batch)
			}
		})
	}
	b.Run("refuse", func(b *testing.B) {
		l := &Limiter{ops: newBucket(1e-9, 1), bytes: newBucket(0, 1), env: &engine.Env{}, opsErr: kinds.ErrRateLimitNoRate,
			next: enginetest.NewStatic(enginetest.OK), now: func() time.Duration { return time.Since(epoch) }, sleep: sleepCtx}
		l.ops.tokens = 0
		batch := enginetest.Lines("GET user:1")
		b.ReportAllocs()
		for b.Loop() {
			l.Serve(ctx, batch)
			batch[0].Reset()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		l := &Limiter{ops: newBucket(1e12, 1), env: &engine.Env{},
			next: enginetest.NewStatic(enginetest.OK), now: func() time.Duration { return time.Since(epoch) }, sleep: sleepCtx}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			batch := enginetest.Lines("GET user:1")
			for pb.Next() {
				l.Serve(ctx, batch)
			}
		})
	})
}
