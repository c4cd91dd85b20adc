package nearcache

import (
	"container/list"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// nshards spreads the store's lock; each shard holds an equal share of
// the memory budget and evicts its own least recently used entries,
// approximately (second chance: entry.ref).
const nshards = 64

// epochSlots splits each shard's invalidation epoch by key hash, so that
// a fill is refused by an invalidation of its own key or of the few keys
// that share its slot, not of any key of its shard: with one epoch per
// shard, a busy pipelined load saw a write somewhere in the shard during
// most hot keys' fill round trips, and they stayed uncached.
const epochSlots = 64

// entryOverhead approximates what an entry costs beyond its bytes (the
// entry, its list element, two map slots), so a budget of many tiny
// replies is not overrun by bookkeeping.
const entryOverhead = 160

// store holds the cached replies and decides, with tickets, which fills
// may enter it.
//
// The fill rule: a reply read from Redis may be cached only if nothing
// that could have changed its key was processed between the moment its
// ticket was taken (before the read was sent) and the insert. "Processed"
// means an invalidation from Redis's tracking stream, a write through
// this engine, or a flush after a gap in the stream. Why this suffices:
// a write W that Redis applies after the read R has its invalidation
// emitted after R's reply was produced; either the proxy processes it
// before the insert, which moves the key's epoch slot past the ticket and
// refuses the insert, or after it, which deletes the entry. A write
// applied before R is in R's reply. Tickets are taken only while every
// primary has a live tracking connection (the generation is read before
// the liveness flag, and a gap clears the flag before it moves the
// generation), so no write can be applied on a node whose invalidations
// the proxy would not hear.
type store struct {
	seed   maphash.Seed
	gen    atomic.Uint64 // moved by every flush
	live   atomic.Bool   // every primary has a tracking connection
	budget int64         // per shard
	maxEnt int64
	shards [nshards]shard
	stats  *stats
}

type shard struct {
	mu sync.Mutex
	// epochs[slot] moves with every invalidation of a key of this shard
	// in that slot; it is written under mu and read without it by
	// tickets.
	epochs  [epochSlots]atomic.Uint64
	entries map[string]*entry   // by signature
	keys    map[string][]*entry // by Redis key, for invalidation
	lru     list.List           // of *entry, most recently filled or spared first
	bytes   int64
	flights map[string]*flight // by signature
	admit   admission
	// Reads of one key counted under the lock the read holds anyway,
	// rather than on counters every core would contend for.
	hits, misses, coalesced uint64
}

// entry is one cached reply.
type entry struct {
	sig     string
	key     string
	reply   []byte
	filled  int64 // nanotime of the ticket
	expires int64 // nanotime, 0 for never
	size    int64
	elem    *list.Element
	// ref is set by a hit and cleared when eviction spares the entry
	// (second chance, CLOCK). A hit only sets a flag on the entry it
	// already read, instead of relinking list elements whose neighbours,
	// in a cache of a million entries, are cache misses of their own.
	ref bool
}

// ticket is what a fill must still match when it inserts.
type ticket struct {
	ok    bool // taken while tracking was live
	gen   uint64
	slot  uint32
	epoch uint64
	at    int64
}

func newStore(maxBytes, maxEntry int64, st *stats) *store {
	s := &store{seed: maphash.MakeSeed(), budget: maxBytes / nshards, maxEnt: maxEntry, stats: st}
	if s.maxEnt > s.budget {
		s.maxEnt = s.budget
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.entries = map[string]*entry{}
		sh.keys = map[string][]*entry{}
		sh.flights = map[string]*flight{}
	}
	return s
}

func (s *store) shard(key []byte) *shard {
	sh, _ := s.locate(key)
	return sh
}

// locate returns key's shard and its epoch slot in that shard.
func (s *store) locate(key []byte) (*shard, uint32) {
	h := maphash.Bytes(s.seed, key)
	return &s.shards[h%nshards], uint32(h / nshards % epochSlots)
}

// ticket takes a ticket for a key of sh in slot. The generation is read
// before the liveness flag; see store.
func (s *store) ticket(sh *shard, slot uint32, now int64) ticket {
	gen := s.gen.Load()
	if !s.live.Load() {
		return ticket{}
	}
	return ticket{ok: true, gen: gen, slot: slot, epoch: sh.epochs[slot].Load(), at: now}
}

// valid reports whether nothing touching sh's keys was processed since t
// was taken. Call it with sh.mu held.
func (s *store) valid(sh *shard, t ticket) bool {
	return t.ok && s.gen.Load() == t.gen && sh.epochs[t.slot].Load() == t.epoch
}

// lookupLocked returns the live entry of sig, dropping an expired one.
func (s *store) lookupLocked(sh *shard, sig []byte, now int64) *entry {
	e := sh.entries[string(sig)]
	if e == nil {
		return nil
	}
	if e.expires != 0 && now >= e.expires {
		s.removeLocked(sh, e)
		s.stats.expired.Add(1)
		return nil
	}
	return e
}

// insert caches reply for sig under t, if t still holds and the reply
// fits.
func (s *store) insert(sh *shard, t ticket, sig, key string, reply []byte, expires int64) {
	size := int64(len(sig)+len(key)+len(reply)) + entryOverhead
	if size > s.maxEnt {
		s.stats.tooLarge.Add(1)
		return
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !s.valid(sh, t) {
		s.stats.refused.Add(1)
		return
	}
	if old := sh.entries[sig]; old != nil {
		s.removeLocked(sh, old)
	}
	e := &entry{sig: sig, key: key, reply: reply, filled: t.at, expires: expires, size: size}
	e.elem = sh.lru.PushFront(e)
	sh.entries[sig] = e
	sh.keys[key] = append(sh.keys[key], e)
	sh.bytes += size
	s.stats.bytes.Add(size)
	s.stats.entries.Add(1)
	s.stats.fills.Add(1)
	for sh.bytes > s.budget {
		last := sh.lru.Back()
		if last == nil {
			break
		}
		v := last.Value.(*entry)
		if v.ref {
			v.ref = false
			sh.lru.MoveToFront(last)
			continue
		}
		s.removeLocked(sh, v)
		s.stats.evictions.Add(1)
	}
}

// removeLocked drops e from every index of sh.
func (s *store) removeLocked(sh *shard, e *entry) {
	delete(sh.entries, e.sig)
	list := sh.keys[e.key]
	for i, x := range list {
		if x == e {
			list[i] = list[len(list)-1]
			list[len(list)-1] = nil
			list = list[:len(list)-1]
			break
		}
	}
	if len(list) == 0 {
		delete(sh.keys, e.key)
	} else {
		sh.keys[e.key] = list
	}
	sh.lru.Remove(e.elem)
	sh.bytes -= e.size
	s.stats.bytes.Add(-e.size)
	s.stats.entries.Add(-1)
}

// invalidate drops every entry of key and refuses the fills of its epoch slot
// in flight.
func (s *store) invalidate(key []byte) {
	sh, slot := s.locate(key)
	sh.mu.Lock()
	sh.epochs[slot].Add(1)
	for _, e := range sh.keys[string(key)] {
		s.removeLocked(sh, e)
		s.stats.invalidated.Add(1)
	}
	sh.mu.Unlock()
}

// flush drops everything and refuses every fill in flight: the
// generation moves first, so a fill that checks it after this point
// fails, and one that inserted before is cleared below.
func (s *store) flush() {
	s.gen.Add(1)
	s.stats.flushes.Add(1)
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for i := range sh.epochs {
			sh.epochs[i].Add(1)
		}
		s.stats.bytes.Add(-sh.bytes)
		s.stats.entries.Add(-int64(len(sh.entries)))
		clear(sh.entries)
		clear(sh.keys)
		sh.lru.Init()
		sh.bytes = 0
		sh.mu.Unlock()
	}
}

// gap is a break in the invalidation stream: nothing may be filled until
// the stream is whole again, and nothing cached before can be trusted.
func (s *store) gap() {
	s.live.Store(false)
	s.flush()
}

// admission counts reads of keys not yet cached, per window, so a key is
// cached only after it was read often enough on this proxy. It is the
// per-shard cousin of the telemetry's hot-key sketch, which samples and
// reports; admission must count every read of the keys it decides on.
type admission struct {
	counts map[string]uint32
	start  int64
}

// maxAdmissionKeys bounds a shard's counts; a window that sees more
// distinct cold keys starts over, which only delays admission.
const maxAdmissionKeys = 4096

// admitLocked counts a read of key and reports whether it reaches need
// within window (nanoseconds).
func (a *admission) admitLocked(key []byte, need uint32, window, now int64) bool {
	if need <= 1 {
		return true
	}
	if a.counts == nil || now-a.start > window || len(a.counts) >= maxAdmissionKeys {
		if a.counts == nil {
			a.counts = map[string]uint32{}
		}
		clear(a.counts)
		a.start = now
	}
	n := a.counts[string(key)]
	if n < need {
		n++
		a.counts[string(key)] = n
	}
	return n >= need
}
