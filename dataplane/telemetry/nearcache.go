package telemetry

import (
	"sort"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// The near caches' counters travel in reports so `keyway top` can show a
// domain's hit ratio across the fleet. Engines count from their start; a
// report carries what each counted since the last delivered report.

// ncEvents are the near_cache counters a report carries.
var ncEvents = [...]string{"hits", "misses", "coalesced", "invalidations", "evictions"}

// ncKey is one near_cache engine: a rebuilt tree's engine has the same
// key and starts from zero.
type ncKey struct {
	domain, track, label, source string
}

type ncTotals [len(ncEvents)]uint64

// nearCacheTotals reads every near_cache engine's counters and bytes.
func (r *Recorder) nearCacheTotals() (map[ncKey]ncTotals, map[string]uint64) {
	f := r.engineStats.Load()
	if f == nil || *f == nil {
		return nil, nil
	}
	totals := map[ncKey]ncTotals{}
	bytes := map[string]uint64{}
	for _, s := range (*f)() {
		if s.Kind != "near_cache" {
			continue
		}
		k := ncKey{s.Domain, s.Track, s.Label, s.Source}
		if s.Name == "bytes" {
			bytes[s.Domain] += s.Value
			if _, ok := totals[k]; !ok {
				totals[k] = ncTotals{}
			}
			continue
		}
		for i, ev := range ncEvents {
			if s.Name == ev {
				t := totals[k]
				t[i] += s.Value
				totals[k] = t
			}
		}
	}
	return totals, bytes
}

// nearCacheStats is each domain's near cache events since prev, and its
// bytes now. A counter below its previous value belongs to a rebuilt
// engine, which counted from zero.
func nearCacheStats(cur, prev map[ncKey]ncTotals, bytes map[string]uint64) []*keywayv1.NearCacheStats {
	if len(cur) == 0 {
		return nil
	}
	byDomain := map[string]*keywayv1.NearCacheStats{}
	for k, t := range cur {
		p := prev[k]
		var d ncTotals
		for i := range t {
			if t[i] >= p[i] {
				d[i] = t[i] - p[i]
			} else {
				d[i] = t[i]
			}
		}
		s := byDomain[k.domain]
		if s == nil {
			s = &keywayv1.NearCacheStats{Domain: k.domain, Bytes: bytes[k.domain]}
			byDomain[k.domain] = s
		}
		s.Hits += d[0]
		s.Misses += d[1]
		s.Coalesced += d[2]
		s.Invalidations += d[3]
		s.Evictions += d[4]
	}
	out := make([]*keywayv1.NearCacheStats, 0, len(byDomain))
	for _, s := range byDomain {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetDomain() < out[j].GetDomain() })
	return out
}
