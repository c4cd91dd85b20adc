package upstream

import (
	"context"
	"slices"
	"testing"

	"keyway.dev/dataplane/engine"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// fakeCluster is a Shared that reports two nodes, as a cluster client
// reports its primaries and replicas.
type fakeCluster struct{ closed bool }

func (f *fakeCluster) Named(name string) engine.Upstream { return namedNop(name) }
func (f *fakeCluster) Close()                            { f.closed = true }
func (f *fakeCluster) Stats() []NodeStats {
	return []NodeStats{{Addr: "10.0.0.2:6379", Connections: 2, InFlight: 1}, {Addr: "10.0.0.1:6379", Connections: 2, Breaker: BreakerOpen}}
}

// namedNop is an upstream that answers nothing; the test never serves.
type namedNop string

func (n namedNop) Name() string                        { return string(n) }
func (n namedNop) Serve(context.Context, engine.Batch) {}

func TestPoolsStatsListsClusterNodes(t *testing.T) {
	p := NewPools(Options{}, nil)
	defer p.Close()
	fc := &fakeCluster{}
	p.SetCluster(func(*keywayv1.Upstream, Options) (Shared, error) { return fc, nil })
	cl := func(name string) *keywayv1.Upstream {
		return &keywayv1.Upstream{Name: name, Kind: &keywayv1.Upstream_Cluster{Cluster: &keywayv1.Cluster{Seeds: []string{"10.0.0.1:6379"}}}}
	}
	_, releaseA, err := p.Acquire(cl("cache"))
	if err != nil {
		t.Fatal(err)
	}
	_, releaseB, err := p.Acquire(cl("sessions"))
	if err != nil {
		t.Fatal(err)
	}
	got := p.Stats()
	if len(got) != 2 {
		t.Fatalf("Stats = %+v, want the cluster's two nodes", got)
	}
	for i, want := range []NodeStats{
		{Upstreams: []string{"cache", "sessions"}, Addr: "10.0.0.1:6379", Connections: 2, Breaker: BreakerOpen},
		{Upstreams: []string{"cache", "sessions"}, Addr: "10.0.0.2:6379", Connections: 2, InFlight: 1},
	} {
		g := got[i]
		if g.Addr != want.Addr || g.Connections != want.Connections || g.InFlight != want.InFlight || g.Breaker != want.Breaker || !slices.Equal(g.Upstreams, want.Upstreams) {
			t.Fatalf("Stats[%d] = %+v, want %+v", i, g, want)
		}
	}
	releaseA()
	releaseB()
	p.Close()
	if !fc.closed {
		t.Fatal("the cluster client was not closed after its last release")
	}
}
