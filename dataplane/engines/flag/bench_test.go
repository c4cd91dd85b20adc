package flag

import (
	"context"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func BenchmarkServe(b *testing.B) {
	env := &engine.Env{}
	env.SetFlags([]*keywayv1.Flag{{Domain: "payments", Flag: "use-new-redis-cluster-for-checkout-v2", Percent: 50}})
	s := &Switch{flag: "use-new-redis-cluster-for-checkout-v2", domain: "payments", env: env,
		key: engine.FlagKey("payments", "use-new-redis-cluster-for-checkout-v2"),
		on:  enginetest.NewStatic("+OK\r\n"), off: enginetest.NewStatic("+OK\r\n")}
	var lines []string
	for range 16 {
		lines = append(lines, "GET user:1")
	}
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		batch engine.Batch
	}{
		{"get", enginetest.Lines("GET user:1")},
		{"pipeline16", enginetest.Lines(lines...)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Serve(ctx, c.batch)
			}
		})
	}
}
