package xds

import (
	"context"
	"testing"

	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"keyway.dev/policy/snapshot"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Every stream waiting on a type gets the same marshalled resources,
// inside a message of its own (the server stamps each stream's nonce on
// it).
func TestFleetCacheMarshalsOncePerVersion(t *testing.T) {
	tr := NewTracker(nil)
	c := newFleetCache(cachev3.NewSnapshotCache(false, fleetHash{}, nil), tr)
	var chans []chan cachev3.Response
	for range 3 {
		ch := make(chan cachev3.Response, 1)
		if _, err := c.CreateWatch(&cachev3.Request{TypeUrl: snapshot.DomainType}, nil, ch); err != nil {
			t.Fatal(err)
		}
		chans = append(chans, ch)
	}
	active := &keywayv1.PolicyVersion{Version: 1, Rendered: &keywayv1.Policy{Domains: []*keywayv1.DomainPolicy{{Name: "a"}, {Name: "b"}}}}
	snap, err := assemble(active, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetSnapshot(context.Background(), nodeHash, snap); err != nil {
		t.Fatal(err)
	}
	var first *cachev3.Response
	for i, ch := range chans {
		select {
		case r := <-ch:
			if first == nil {
				first = &r
			}
			a, _ := (*first).GetDiscoveryResponse()
			b, _ := r.GetDiscoveryResponse()
			if len(b.GetResources()) != 2 || b.GetVersionInfo() != snap.GetVersion(snapshot.DomainType) {
				t.Fatalf("watch %d: %d resources at %q", i, len(b.GetResources()), b.GetVersionInfo())
			}
			if a == b {
				t.Fatalf("watch %d shares its response message: nonces would clash", i)
			}
			for j := range b.GetResources() {
				if a.GetResources()[j] != b.GetResources()[j] {
					t.Fatalf("watch %d: resource %d marshalled again", i, j)
				}
			}
		default:
			t.Fatalf("watch %d not answered", i)
		}
	}
	// A watch at the current version waits; one behind is answered at once.
	ch := make(chan cachev3.Response, 1)
	if _, err := c.CreateWatch(&cachev3.Request{TypeUrl: snapshot.DomainType, VersionInfo: snap.GetVersion(snapshot.DomainType)}, nil, ch); err != nil {
		t.Fatal(err)
	}
	if len(ch) != 0 || len(c.watches) != 1 {
		t.Fatalf("a watch at the current version was answered (%d) or not kept (%d)", len(ch), len(c.watches))
	}
	if _, err := c.CreateWatch(&cachev3.Request{TypeUrl: snapshot.DomainType, VersionInfo: "v0-old"}, nil, ch); err == nil && len(ch) != 1 {
		t.Fatal("a watch behind the current version was not answered at once")
	}
}
