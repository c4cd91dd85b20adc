package telemetry

import (
	"testing"

	"keyway.dev/dataplane/engine"
)

func ncStat(domain, label, name string, v uint64) engine.EngineStat {
	return engine.EngineStat{Domain: domain, Track: "stable", Kind: "near_cache", Label: label, Source: "p.star:1:1",
		Counter: engine.Counter{Name: name, Value: v, Gauge: name == "bytes"}}
}

// TestNearCacheStatsAreDeltas checks a report carries each domain's near
// cache events since the last one, summed over its engines, with the
// bytes held now, and that an engine rebuilt by a reload (its counters
// back near zero) counts from zero rather than going negative.
func TestNearCacheStatsAreDeltas(t *testing.T) {
	rec := New(Options{})
	stats := []engine.EngineStat{
		ncStat("web", "a", "hits", 10), ncStat("web", "a", "misses", 5), ncStat("web", "a", "bytes", 100),
		ncStat("web", "b", "hits", 1), ncStat("web", "b", "coalesced", 2), ncStat("web", "b", "bytes", 50),
		ncStat("api", "", "evictions", 3), ncStat("api", "", "invalidations", 4),
		{Domain: "web", Kind: "guard", Counter: engine.Counter{Name: "hits", Value: 999}},
	}
	rec.SetEngineStats(func() []engine.EngineStat { return stats })

	cur, bytes := rec.nearCacheTotals()
	first := nearCacheStats(cur, nil, bytes)
	if len(first) != 2 || first[0].GetDomain() != "api" || first[1].GetDomain() != "web" {
		t.Fatalf("domains %v, want api and web", first)
	}
	web := first[1]
	if web.GetHits() != 11 || web.GetMisses() != 5 || web.GetCoalesced() != 2 || web.GetBytes() != 150 {
		t.Errorf("web = %v, want hits 11 misses 5 coalesced 2 bytes 150", web)
	}
	if api := first[0]; api.GetEvictions() != 3 || api.GetInvalidations() != 4 {
		t.Errorf("api = %v", api)
	}

	stats[0] = ncStat("web", "a", "hits", 15) // 5 more
	stats[3] = ncStat("web", "b", "hits", 0)  // rebuilt: counts from zero
	stats[4] = ncStat("web", "b", "coalesced", 1)
	next, bytes := rec.nearCacheTotals()
	second := nearCacheStats(next, cur, bytes)
	web = second[1]
	if web.GetHits() != 5 || web.GetMisses() != 0 || web.GetCoalesced() != 1 {
		t.Errorf("second report web = %v, want hits 5 misses 0 coalesced 1", web)
	}

	rec.SetEngineStats(func() []engine.EngineStat { return nil })
	if got, _ := rec.nearCacheTotals(); nearCacheStats(got, cur, nil) != nil {
		t.Error("a proxy without near caches reported some")
	}
}
