package telemetry

import (
	"maps"
	"slices"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Near caches report their events per interval, which add up like
// requests, and the bytes they hold, a gauge: a window shows the events
// of every report in it and, per proxy (or per other replica's slot), the
// bytes of the latest.

// ncAcc is one domain's near caches over a window.
type ncAcc struct {
	keywayv1.NearCacheTop
	seen bool
}

// addEvents adds s's events.
func (a *ncAcc) addEvents(s *keywayv1.NearCacheStats) {
	a.seen = true
	a.Hits += s.GetHits()
	a.Misses += s.GetMisses()
	a.Coalesced += s.GetCoalesced()
	a.Invalidations += s.GetInvalidations()
	a.Evictions += s.GetEvictions()
}

// countNearCache adds the events of rs (one proxy's reports, or one
// replica's slots, oldest first) to each domain's acc, and the bytes of
// the latest report that names the domain.
func countNearCache(rs []report, domain string, get func(string) *domainAcc) {
	latest := map[string]uint64{}
	for _, r := range rs {
		for _, s := range r.nc {
			if domain != "" && s.GetDomain() != domain {
				continue
			}
			get(s.GetDomain()).nc.addEvents(s)
			latest[s.GetDomain()] = s.GetBytes()
		}
	}
	for d, b := range latest {
		get(d).nc.Bytes += b
	}
}

// proto is the acc as a DomainTop field, nil for a domain without near
// caches.
func (a *ncAcc) proto() *keywayv1.NearCacheTop {
	if !a.seen {
		return nil
	}
	out := &keywayv1.NearCacheTop{Hits: a.Hits, Misses: a.Misses, Coalesced: a.Coalesced,
		Invalidations: a.Invalidations, Evictions: a.Evictions, Bytes: a.Bytes}
	if n := a.Hits + a.Misses; n > 0 {
		out.HitRatio = float64(a.Hits) / float64(n)
	}
	return out
}

// slotNearCache gathers a slot's near cache figures: events summed, and
// each proxy's latest bytes.
type slotNearCache struct {
	events map[string]*keywayv1.NearCacheStats
	bytes  map[string]map[string]uint64 // node -> domain -> bytes
}

func (s *slotNearCache) add(node string, stats []*keywayv1.NearCacheStats) {
	if len(stats) == 0 {
		return
	}
	if s.events == nil {
		s.events, s.bytes = map[string]*keywayv1.NearCacheStats{}, map[string]map[string]uint64{}
	}
	nb := map[string]uint64{}
	for _, st := range stats {
		e := s.events[st.GetDomain()]
		if e == nil {
			e = &keywayv1.NearCacheStats{Domain: st.GetDomain()}
			s.events[st.GetDomain()] = e
		}
		e.Hits += st.GetHits()
		e.Misses += st.GetMisses()
		e.Coalesced += st.GetCoalesced()
		e.Invalidations += st.GetInvalidations()
		e.Evictions += st.GetEvictions()
		nb[st.GetDomain()] = st.GetBytes()
	}
	s.bytes[node] = nb
}

// merged is the slot's NearCacheStats, one per domain, with the bytes
// of its proxies summed.
func (s *slotNearCache) merged() []*keywayv1.NearCacheStats {
	var out []*keywayv1.NearCacheStats
	for _, d := range slices.Sorted(maps.Keys(s.events)) {
		e := &keywayv1.NearCacheStats{Domain: d, Hits: s.events[d].GetHits(), Misses: s.events[d].GetMisses(),
			Coalesced: s.events[d].GetCoalesced(), Invalidations: s.events[d].GetInvalidations(), Evictions: s.events[d].GetEvictions()}
		for _, nb := range s.bytes {
			e.Bytes += nb[d]
		}
		out = append(out, e)
	}
	return out
}
