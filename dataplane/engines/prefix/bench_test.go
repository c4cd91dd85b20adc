package prefix

import (
	"context"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
)

func BenchmarkServe(b *testing.B) {
	ctx := context.Background()
	for _, c := range []struct {
		name, reply string
		batch       engine.Batch
	}{
		{"get", "$1\r\nv\r\n", enginetest.Lines("GET user:1")},
		{"mset", "+OK\r\n", enginetest.Lines("MSET user:1 a user:2 b user:3 c")},
		{"pipeline", "+OK\r\n", enginetest.Lines("GET user:1", "SET user:2 v", "GET user:3", "INCR user:4")},
		{"scan", "*2\r\n$1\r\n0\r\n*2\r\n$4\r\nt:k1\r\n$4\r\nt:k2\r\n", enginetest.Lines("SCAN 0 COUNT 100")},
	} {
		p := &Prefix{prefix: []byte("t:"), pattern: escapeGlob("t:"), next: enginetest.NewStatic(c.reply)}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Serve(ctx, c.batch)
			}
		})
	}
}
