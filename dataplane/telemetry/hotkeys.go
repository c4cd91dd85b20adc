package telemetry

import (
	"math/rand/v2"
	"sort"
	"sync"
)

// HotKey is a key and its estimated request count.
type HotKey struct {
	Key   string
	Count uint64
}

// hotKeys is a space-saving top-K sketch (Metwally et al.): it keeps at
// most cap keys; a new key evicts the one with the smallest count and
// inherits that count, so a key's count is an overestimate by at most the
// smallest count, and every key more frequent than 1/cap of the stream is
// kept.
type hotKeys struct {
	mu      sync.Mutex
	index   map[string]int
	entries []HotKey
	cap     int
}

func newHotKeys(capacity int) *hotKeys {
	return &hotKeys{index: make(map[string]int, capacity), cap: capacity}
}

func (h *hotKeys) add(key []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	// A map index by string(bytes) does not copy the key.
	if i, ok := h.index[string(key)]; ok {
		h.entries[i].Count++
		return
	}
	if len(h.entries) < h.cap {
		h.index[string(key)] = len(h.entries)
		h.entries = append(h.entries, HotKey{Key: string(key), Count: 1})
		return
	}
	low := 0
	for i := range h.entries {
		if h.entries[i].Count < h.entries[low].Count {
			low = i
		}
	}
	delete(h.index, h.entries[low].Key)
	h.entries[low] = HotKey{Key: string(key), Count: h.entries[low].Count + 1}
	h.index[h.entries[low].Key] = low
}

// take returns the n hottest keys, hottest first, each count scaled by
// scale, and empties the sketch so the next interval starts fresh.
func (h *hotKeys) take(n int, scale uint64) []HotKey {
	h.mu.Lock()
	entries := h.entries
	h.entries = nil
	clear(h.index)
	h.mu.Unlock()
	sortHot(entries)
	if len(entries) > n {
		entries = entries[:n]
	}
	for i := range entries {
		entries[i].Count *= scale
	}
	return entries
}

func sortHot(e []HotKey) {
	sort.Slice(e, func(i, j int) bool {
		if e[i].Count != e[j].Count {
			return e[i].Count > e[j].Count
		}
		return e[i].Key < e[j].Key
	})
}

// ObserveKey offers key, requested in domain, to the domain's hot-key
// sketch. Only one call in Options.HotKeySample is counted, chosen at
// random, so the common case costs a random number and a branch.
func (r *Recorder) ObserveKey(domain string, key []byte) {
	if rand.Uint32()&uint32(r.opts.HotKeySample-1) != 0 {
		return
	}
	r.domain(domain).hot.add(key)
}

// TakeHotKeys returns each domain's n hottest keys since the last call,
// with counts scaled to estimated requests, and starts a new interval.
func (r *Recorder) TakeHotKeys(n int) map[string][]HotKey {
	out := map[string][]HotKey{}
	for name, d := range *r.domains.Load() {
		if name != d.name {
			continue // an alias of a folded domain
		}
		if keys := d.hot.take(n, uint64(r.opts.HotKeySample)); len(keys) > 0 {
			out[name] = keys
		}
	}
	return out
}
