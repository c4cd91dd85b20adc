package mirror

import (
	"context"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// BenchmarkServe measures the client's side: primary, eligibility,
// sampling, the copy and the queue offer. The shadow is a Static, so the
// worker keeps up and nothing is dropped at low sample shares.
func BenchmarkServe(b *testing.B) {
	var lines []string
	for range 8 {
		lines = append(lines, "GET user:1", "SET user:2 value")
	}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		cfg  *keywayv1.Mirror
	}{
		{"all", &keywayv1.Mirror{Queue: 4096}},
		{"sample1pct", &keywayv1.Mirror{Sample: 0.01}},
		{"writesonly-compare", &keywayv1.Mirror{WritesOnly: true, Compare: true, Queue: 4096}},
	} {
		for _, in := range []struct {
			name  string
			batch engine.Batch
		}{
			{"set", enginetest.Lines("SET user:1 value")},
			{"pipeline16", enginetest.Lines(lines...)},
		} {
			b.Run(c.name+"/"+in.name, func(b *testing.B) {
				m := newMirror(b, enginetest.NewStatic("+OK\r\n"), enginetest.NewStatic("+OK\r\n"), c.cfg)
				b.ReportAllocs()
				for b.Loop() {
					m.Serve(ctx, in.batch)
				}
			})
		}
	}
}
