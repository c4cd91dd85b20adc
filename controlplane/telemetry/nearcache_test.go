package telemetry

import (
	"testing"
	"time"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

func ncRep(node string, now time.Time, hits, misses, bytes uint64) *keywayv1.ReportRequest {
	r := rep(node, 5*time.Second, now, cmd("web", "GET", int(hits+misses), time.Millisecond, nil))
	r.NearCache = []*keywayv1.NearCacheStats{{Domain: "web", Hits: hits, Misses: misses, Coalesced: 1, Invalidations: 2, Evictions: 3, Bytes: bytes}}
	return r
}

// TestTopNearCache checks a domain's near cache row: events of every
// report in the window added, bytes as of each proxy's latest report.
func TestTopNearCache(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	a := New(Options{Now: c.now})
	for _, r := range []*keywayv1.ReportRequest{
		ncRep("p1", c.t, 30, 10, 1000),
		ncRep("p2", c.t, 5, 5, 500),
	} {
		if err := a.Ingest(r); err != nil {
			t.Fatal(err)
		}
	}
	c.advance(5 * time.Second)
	if err := a.Ingest(ncRep("p1", c.t, 30, 0, 800)); err != nil {
		t.Fatal(err)
	}
	for _, domain := range []string{"", "web"} {
		top := a.Top(time.Minute, domain)
		if len(top.GetDomains()) != 1 {
			t.Fatalf("domain filter %q: %v", domain, top.GetDomains())
		}
		nc := top.GetDomains()[0].GetNearCache()
		if nc.GetHits() != 65 || nc.GetMisses() != 15 || nc.GetCoalesced() != 3 || nc.GetInvalidations() != 6 || nc.GetEvictions() != 9 {
			t.Errorf("filter %q: near cache %v, want hits 65 misses 15 coalesced 3 invalidations 6 evictions 9", domain, nc)
		}
		if nc.GetBytes() != 1300 {
			t.Errorf("filter %q: bytes %d, want 800 (p1's latest) + 500 (p2's)", domain, nc.GetBytes())
		}
		if want := 65.0 / 80; !near(nc.GetHitRatio(), want) {
			t.Errorf("filter %q: hit ratio %v, want %v", domain, nc.GetHitRatio(), want)
		}
	}
	// A domain without near caches has no row.
	if err := a.Ingest(rep("p3", 5*time.Second, c.t, cmd("api", "GET", 5, time.Millisecond, nil))); err != nil {
		t.Fatal(err)
	}
	if nc := a.Top(time.Minute, "api").GetDomains()[0].GetNearCache(); nc != nil {
		t.Errorf("api has a near cache row: %v", nc)
	}
}

// TestSlotCarriesNearCache: another replica's slot carries its proxies'
// near cache events and their latest bytes.
func TestSlotCarriesNearCache(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	acc := newSlotAcc()
	agg := New(Options{Now: func() time.Time { return now }})
	agg.pending = acc
	for _, r := range []*keywayv1.ReportRequest{ncRep("p1", now, 3, 1, 100), ncRep("p1", now, 2, 0, 70), ncRep("p2", now, 1, 1, 30)} {
		if err := agg.Ingest(r); err != nil {
			t.Fatal(err)
		}
	}
	b, _, err := acc.encode(now.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeSlot("k", b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.nc) != 1 {
		t.Fatalf("near cache rows %v", got.nc)
	}
	if nc := got.nc[0]; nc.GetHits() != 6 || nc.GetMisses() != 2 || nc.GetBytes() != 100 {
		t.Errorf("slot near cache %v, want hits 6 misses 2 bytes 100 (70 + 30)", nc)
	}
}
