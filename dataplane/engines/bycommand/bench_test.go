package bycommand

import (
	"context"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/resp"
)

func BenchmarkServe(b *testing.B) {
	reads, writes, def := enginetest.NewStatic("+OK\r\n"), enginetest.NewStatic("+OK\r\n"), enginetest.NewStatic("+OK\r\n")
	bc := &ByCommand{
		named: map[*resp.Spec]engine.Engine{resp.Lookup([]byte("WAIT")): def},
		names: map[*resp.Spec]string{},
		def:   def,
	}
	bc.classes[resp.ClassRead] = reads
	bc.classes[resp.ClassWrite] = writes
	var one, two []string
	for i := range 16 {
		one = append(one, "GET user:1")
		if i%2 == 0 {
			two = append(two, "GET user:1")
		} else {
			two = append(two, "SET user:1 v")
		}
	}
	cases := []struct {
		name  string
		batch engine.Batch
	}{
		{"get", enginetest.Lines("GET user:1")},
		{"pipeline16-one-child", enginetest.Lines(one...)},
		{"pipeline16-two-children", enginetest.Lines(two...)},
	}
	ctx := context.Background()
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.Serve(ctx, c.batch)
			}
		})
	}
}
