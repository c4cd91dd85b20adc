package nearcache

import (
	"sync/atomic"

	"keyway.dev/dataplane/engine"
)

// stats are the engine's counters, reported through engine.StatsReporter
// and so in /metrics and keyway top with the engine's domain and label.
type stats struct {
	// Reads of one key count in their shard (store.go); these are the
	// MGETs, which span shards.
	mgetHits, mgetMisses atomic.Uint64
	fills                atomic.Uint64
	refused              atomic.Uint64 // fills refused by the fill rule
	tooLarge             atomic.Uint64
	invalidated          atomic.Uint64 // entries dropped by Redis's pushes or local writes
	messages             atomic.Uint64 // invalidate pushes received
	flushes              atomic.Uint64
	evictions            atomic.Uint64
	expired              atomic.Uint64
	gaps                 atomic.Uint64
	tracked              atomic.Uint64 // rounds in which every primary was tracked
	trackErrors          atomic.Uint64
	bytes                atomic.Int64
	entries              atomic.Int64
}

// AppendStats reports the counters.
func (n *NearCache) AppendStats(dst []engine.Counter) []engine.Counter {
	s := n.stats
	hits, misses, coalesced := s.mgetHits.Load(), s.mgetMisses.Load(), uint64(0)
	for i := range n.store.shards {
		sh := &n.store.shards[i]
		sh.mu.Lock()
		hits, misses, coalesced = hits+sh.hits, misses+sh.misses, coalesced+sh.coalesced
		sh.mu.Unlock()
	}
	live := uint64(0)
	if n.store.live.Load() {
		live = 1
	}
	return append(dst,
		engine.Counter{Name: "hits", Value: hits},
		engine.Counter{Name: "misses", Value: misses},
		engine.Counter{Name: "coalesced", Value: coalesced},
		engine.Counter{Name: "fills", Value: s.fills.Load()},
		engine.Counter{Name: "fills_refused", Value: s.refused.Load()},
		engine.Counter{Name: "too_large", Value: s.tooLarge.Load()},
		engine.Counter{Name: "invalidations", Value: s.invalidated.Load()},
		engine.Counter{Name: "invalidate_messages", Value: s.messages.Load()},
		engine.Counter{Name: "flushes", Value: s.flushes.Load()},
		engine.Counter{Name: "evictions", Value: s.evictions.Load()},
		engine.Counter{Name: "expired", Value: s.expired.Load()},
		engine.Counter{Name: "gaps", Value: s.gaps.Load()},
		engine.Counter{Name: "tracking_errors", Value: s.trackErrors.Load()},
		engine.Counter{Name: "bytes", Value: uint64(max(s.bytes.Load(), 0)), Gauge: true},
		engine.Counter{Name: "entries", Value: uint64(max(s.entries.Load(), 0)), Gauge: true},
		engine.Counter{Name: "tracking_live", Value: live, Gauge: true},
	)
}
