package route

import (
	"context"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/engines/internal/trie"
)

func newTrie(prefixes []string) (*trie.Trie, error) { return trie.New(prefixes) }

func BenchmarkServe(b *testing.B) {
	rt, err := newForTest([]string{"user:", "session:", "feed:"},
		enginetest.NewStatic("+OK\r\n"), enginetest.NewStatic("+OK\r\n"), enginetest.NewStatic("+OK\r\n"), enginetest.NewStatic("+OK\r\n"))
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name  string
		batch engine.Batch
	}{
		{"get", enginetest.Lines("GET user:12345")},
		{"pipeline-one-child", enginetest.Lines("GET user:1", "SET user:2 v", "GET user:3", "INCR user:4")},
		{"pipeline-two-children", enginetest.Lines("GET user:1", "GET session:2", "GET user:3", "GET session:4")},
		{"mget-split", enginetest.Lines("MGET user:1 session:2 user:3 other")},
	}
	ctx := context.Background()
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rt.Serve(ctx, c.batch)
			}
		})
	}
}
