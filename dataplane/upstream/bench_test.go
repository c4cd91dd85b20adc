package upstream

import (
	"context"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/redistest"
)

// BenchmarkNode measures requests through a Node against a real redis,
// one caller at a time (the latency of a round trip) and in parallel (how
// well callers' commands coalesce).
func BenchmarkNode(b *testing.B) {
	s := redistest.Start(b)
	n := startNode(b, standalone("main", s.Addr), s.Addr, Options{})
	for _, bc := range []struct {
		name     string
		depth    int
		parallel bool
	}{
		{"round-trip", 1, false},
		{"pipeline-16", 16, false},
		{"parallel-round-trip", 1, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			newBatch := func() engine.Batch {
				batch := make(engine.Batch, bc.depth)
				for i := range batch {
					batch[i] = req("GET", "key")
				}
				return batch
			}
			run := func(batch engine.Batch) {
				for _, r := range batch {
					args := r.Cmd.Args
					r.Reset()
					r.Cmd.Args = args
				}
				n.Serve(context.Background(), "main", batch)
				if batch[len(batch)-1].Kind() != engine.KindNone {
					b.Fatalf("reply %q", batch[len(batch)-1].Raw())
				}
			}
			b.ReportAllocs()
			if !bc.parallel {
				batch := newBatch()
				for b.Loop() {
					run(batch)
				}
				return
			}
			b.RunParallel(func(pb *testing.PB) {
				batch := newBatch()
				for pb.Next() {
					run(batch)
				}
			})
		})
	}
}
