package failover

import (
	"context"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
)

func BenchmarkServe(b *testing.B) {
	f := &Failover{now: time.Now}
	for range 2 {
		f.children = append(f.children, child{e: enginetest.NewStatic("+OK\r\n"), br: &breaker{threshold: 5, cooldown: time.Second}})
	}
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
				f.Serve(ctx, c.batch)
			}
		})
	}
}
