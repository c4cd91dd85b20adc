package cluster

import (
	"context"
	"fmt"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/multikey"
	"keyway.dev/dataplane/redistest"
)

func BenchmarkSlot(b *testing.B) {
	for _, key := range []string{"user:1000:profile", "{user1000}.profile", "k"} {
		b.Run(key, func(b *testing.B) {
			k := []byte(key)
			for b.Loop() {
				Slot(k)
			}
		})
	}
}

// BenchmarkSplit is the per-request work of an MGET of 10 keys across
// slots: classifying its keys and splitting it by slot.
func BenchmarkSplit(b *testing.B) {
	words := []string{"MGET"}
	for i := range 10 {
		words = append(words, fmt.Sprintf("key:%d", i))
	}
	r := req(words...)
	var p multikey.Plan
	b.ReportAllocs()
	for b.Loop() {
		if _, s := classify(r); s != spanning {
			b.Fatal("not spanning")
		}
		if err := p.Build(&r.Cmd, Slot); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServe measures requests through the client to a real cluster:
// one GET (the fast path), an MGET of 10 keys across slots and a
// pipeline of 16 GETs across nodes (scatter-gather).
func BenchmarkServe(b *testing.B) {
	cl := redistest.StartCluster(b, 3, 0)
	c := newClient(b, clusterUpstream(cl, nil))
	mget := []string{"MGET"}
	var pipe [][]string
	for i := range 16 {
		k := fmt.Sprintf("key:%d", i)
		do(c, "SET", k, "v")
		if i < 10 {
			mget = append(mget, k)
		}
		pipe = append(pipe, []string{"GET", k})
	}
	for _, tc := range []struct {
		name string
		cmds [][]string
	}{
		{"get", [][]string{{"GET", "key:1"}}},
		{"mget10", [][]string{mget}},
		{"pipeline16", pipe},
	} {
		b.Run(tc.name, func(b *testing.B) {
			batch := make(engine.Batch, len(tc.cmds))
			for i, w := range tc.cmds {
				batch[i] = req(w...)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				for _, r := range batch {
					r.Reply(nil)
				}
				c.Serve(ctx, batch)
				if raw := batch[0].Raw(); len(raw) == 0 || raw[0] == '-' {
					b.Fatalf("reply %q", raw)
				}
			}
		})
	}
}
