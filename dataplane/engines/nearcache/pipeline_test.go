package nearcache

import (
	"context"
	"sync/atomic"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/redistest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// rounds counts the batches a near cache sends upstream.
type rounds struct {
	engine.Upstream
	n atomic.Int64
}

func (c *rounds) Serve(ctx context.Context, b engine.Batch) {
	c.n.Add(1)
	c.Upstream.Serve(ctx, b)
}

// TestPipelineWriteHoldsBackOnlyItsKeys: a write in a pipeline holds back
// later reads of the keys it names (they wait for its round trip, then
// see it), while reads of other keys are answered from memory at once;
// a write whose keys cannot be named exactly holds back every read.
func TestPipelineWriteHoldsBackOnlyItsKeys(t *testing.T) {
	s := redistest.Start(t)
	p := newProxy(t, standalone(s.Addr), &keywayv1.NearCache{})
	up := &rounds{Upstream: p.nc.up}
	p.nc.up = up
	s.Do("SET", "a", "old")
	s.Do("SET", "b", "bee")
	p.sync()
	for _, k := range []string{"a", "b"} {
		p.do("GET", k)
		if p.entry("GET", k) == nil {
			t.Fatalf("GET %s not cached after a synced fill", k)
		}
	}

	for _, tc := range []struct {
		name   string
		lines  []string
		want   []string
		rounds int64
		hits   uint64
	}{
		{"other keys from memory", []string{"SET a new", "GET b", "MGET b", "EXISTS b"},
			[]string{"+OK\r\n", bulk("bee"), "*1\r\n" + bulk("bee"), ":1\r\n"}, 1, 2},
		{"own key after the write", []string{"GET b", "SET a newer", "GET a", "GET b"},
			[]string{bulk("bee"), "+OK\r\n", bulk("newer"), bulk("bee")}, 2, 2},
		{"keyless write holds back all", []string{"GET b", "SET a x", "FLUSHALL", "GET b"},
			[]string{bulk("bee"), "+OK\r\n", "+OK\r\n", "$-1\r\n"}, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"a", "b"} {
				waitFor(t, "GET "+k+" to be cached", func() bool {
					p.sync()
					p.do("GET", k)
					return p.entry("GET", k) != nil
				})
			}
			n0, h0 := up.n.Load(), p.stat("hits")
			b := enginetest.Lines(tc.lines...)
			p.root.Serve(context.Background(), b)
			for i, r := range b {
				if got := string(r.Raw()); got != tc.want[i] {
					t.Errorf("pipeline[%d] %s = %q, want %q", i, r.Cmd.Args[0], got, tc.want[i])
				}
			}
			if got := up.n.Load() - n0; got != tc.rounds {
				t.Errorf("%d round trips, want %d", got, tc.rounds)
			}
			if got := p.stat("hits") - h0; got != tc.hits {
				t.Errorf("%d hits, want %d", got, tc.hits)
			}
		})
	}
}
