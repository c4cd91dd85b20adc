package ttljitter

import (
	"context"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
)

func BenchmarkServe(b *testing.B) {
	ctx := context.Background()
	j := &TTLJitter{share: 0.1, next: enginetest.NewStatic(enginetest.OK), rnd: randN}
	for _, c := range []struct {
		name  string
		batch engine.Batch
	}{
		{"get", enginetest.Lines("GET user:1")},
		{"set-ex", enginetest.Lines("SET user:1 v EX 3600")},
		{"pipeline", enginetest.Lines("SET a v EX 60", "GET a", "EXPIRE b 60", "SETEX c 60 v")},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				j.Serve(ctx, c.batch)
			}
		})
	}
}
