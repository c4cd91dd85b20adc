package split

import (
	"context"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
)

func BenchmarkServe(b *testing.B) {
	var lines []string
	for range 16 {
		lines = append(lines, "GET user:1", "SET user:2 v")
	}
	lines = lines[:16]
	ctx := context.Background()
	for _, byKey := range []bool{false, true} {
		s := &Split{
			children: []engine.Engine{enginetest.NewStatic("+OK\r\n"), enginetest.NewStatic("+OK\r\n")},
			weights:  []uint32{90, 10},
			bounds:   []uint32{9000, Buckets},
			byKey:    byKey,
			salt:     1,
		}
		by := "connection"
		if byKey {
			by = "key"
		}
		for _, c := range []struct {
			name  string
			batch engine.Batch
		}{
			{"get", enginetest.Lines("GET user:1")},
			{"eval", enginetest.Lines("EVAL x 1 user:1")},
			{"pipeline16", enginetest.Lines(lines...)},
		} {
			b.Run(by+"/"+c.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					s.Serve(ctx, c.batch)
				}
			})
		}
	}
}
