package guard

import (
	"context"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/engines/internal/trie"
	"keyway.dev/dataplane/resp"
)

func BenchmarkServe(b *testing.B) {
	tr, err := trie.New([]string{"user:", "cart:"})
	if err != nil {
		b.Fatal(err)
	}
	g := &Guard{
		deny: map[string]struct{}{"KEYS": {}, "FLUSHALL": {}}, prefixes: []string{"user:", "cart:"}, prefixList: "user:, cart:",
		trie: tr, maxValue: 1 << 20, maxKeys: 100, maxPipeline: 64, domain: "web", counts: &Counts{},
		next: enginetest.NewStatic(enginetest.OK),
	}
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		batch engine.Batch
	}{
		{"get", enginetest.Lines("GET user:1")},
		{"set", enginetest.Lines("SET user:1 some-value")},
		{"mget", enginetest.Lines("MGET user:1 user:2 cart:3 cart:4")},
		{"refuse-key", enginetest.Lines("GET other:1")},
		{"pipeline", enginetest.Lines("GET user:1", "SET cart:1 v", "INCR user:2", "GET user:3")},
	} {
		saved := make([]resp.Command, len(c.batch))
		for i, r := range c.batch {
			saved[i] = r.Cmd
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				g.Serve(ctx, c.batch)
				for i, r := range c.batch {
					r.Reset()
					r.Cmd = saved[i]
				}
			}
		})
	}
}
