package nearcache

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/redistest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// BenchmarkPipeline serves pipelines of 16 (one SET, fifteen GETs over
// 1000 keys) through a near cache and through the bare upstream leaf.
func BenchmarkPipeline(b *testing.B) {
	s := redistest.Start(b)
	p := newProxy(b, standalone(s.Addr), &keywayv1.NearCache{})
	plain := p.nc.next
	for i := range 1000 {
		p.do("SET", "k"+strconv.Itoa(i), "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv")
	}
	p.sync()
	rng := rand.New(rand.NewPCG(1, 1))
	batch := func() engine.Batch {
		lines := []string{"SET k" + strconv.Itoa(rng.IntN(1000)) + " v"}
		for range 15 {
			lines = append(lines, "GET k"+strconv.Itoa(rng.IntN(1000)))
		}
		rng.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
		return enginetest.Lines(lines...)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		e    engine.Engine
	}{{"plain", plain}, {"near_cache", p.root}} {
		b.Run(tc.name, func(b *testing.B) {
			batches := make([]engine.Batch, 256)
			for i := range batches {
				batches[i] = batch()
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				bt := batches[i%len(batches)]
				for _, r := range bt {
					args, spec := r.Cmd.Args, r.Cmd.Spec
					r.Reset()
					r.Session = enginetest.Session
					r.Cmd.Args, r.Cmd.Spec = args, spec
				}
				tc.e.Serve(ctx, bt)
				i++
			}
		})
	}
}
