package nearcache

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"keyway.dev/dataplane/engines/nearcache/index"
)

// nshards spreads the store's lock; each shard holds an equal share of
// the memory budget and evicts its own least recently used entries,
// approximately (second chance, CLOCK: shard.marks).
const nshards = 64

// epochSlots splits each shard's invalidation epoch by key hash, so that
// a fill is refused by an invalidation of its own key or of the few keys
// that share its slot, not of any key of its shard: with one epoch per
// shard, a busy pipelined load saw a write somewhere in the shard during
// most hot keys' fill round trips, and they stayed uncached.
const epochSlots = 64

// entryOverhead approximates what an entry costs beyond its bytes (its
// slab entry, its index slots at their load, the header of its bytes),
// so a budget of many tiny replies is not overrun by bookkeeping.
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

// A shard's entries live in a slab (ents) and are found through two
// open-addressing indexes rather than Go maps: in a cache of a million
// entries every map lookup cost cache misses for the bucket, the key's
// bytes, the entry and the reply, and made a hit dearer for the proxy
// than forwarding the read. A hit now reads the slot of the signature
// index, which holds the entry's bytes beside the hash, and those bytes:
// a header, the signature, the reply and the key, contiguous.
type shard struct {
	mu sync.Mutex
	// epochs[slot] moves with every invalidation of a key of this shard
	// in that slot; it is written under mu and read without it by
	// tickets.
	epochs [epochSlots]atomic.Uint64
	sigs   index.Table[loc]    // by signature hash
	keys   index.Table[uint32] // by key hash: the slab position of the key's first entry
	ents   []entry             // the slab
	free   []uint32            // free slab positions, the last freed on top
	// marks has a bit per slab position, set by a hit and cleared when
	// eviction spares the entry (second chance, CLOCK); the hand sweeps
	// the slab. A freed position is reused by the next fill, so an entry
	// filled after an eviction sits just behind the hand and waits a full
	// sweep, as in a list ordered by fill.
	marks   []uint64
	hand    int
	bytes   int64
	flights map[string]*flight // by signature
	admit   admission
	// Reads of one key counted under the lock the read holds anyway,
	// rather than on counters every core would contend for.
	hits, misses, coalesced uint64
}

// loc is what the signature index holds: the entry's slab position and
// its bytes, so a hit need not read the slab.
type loc struct {
	pos  uint32
	data []byte
}

// entry is the slab's record of one cached reply; what a hit reads is in
// data.
type entry struct {
	data    []byte // nil when the position is free
	filled  int64  // nanotime of the ticket
	sigHash uint32
	keyHash uint32
	// The key's other entries (other commands, fields or protocols), as
	// slab position + 1, 0 for none: invalidation drops them all.
	next, prev uint32
}

// An entry's bytes: expiry (nanotime, 0 for never), signature length,
// reply length, then the signature, the reply and the key.
const (
	hdrExpires = 0
	hdrSigLen  = 8
	hdrRepLen  = 12
	hdrLen     = 16
)

func entryExpires(d []byte) int64 { return int64(binary.LittleEndian.Uint64(d[hdrExpires:])) }

func entrySig(d []byte) []byte {
	return d[hdrLen : hdrLen+binary.LittleEndian.Uint32(d[hdrSigLen:])]
}

func entryReply(d []byte) []byte {
	s := hdrLen + binary.LittleEndian.Uint32(d[hdrSigLen:])
	return d[s : s+binary.LittleEndian.Uint32(d[hdrRepLen:])]
}

func entryKey(d []byte) []byte {
	return d[hdrLen+binary.LittleEndian.Uint32(d[hdrSigLen:])+binary.LittleEndian.Uint32(d[hdrRepLen:]):]
}

// entrySize is what an entry counts against the budget.
func entrySize(sig, key, reply int) int64 { return int64(sig+key+reply) + entryOverhead }

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
		s.shards[i].flights = map[string]*flight{}
	}
	return s
}

// hash is a key's hash: its low bits choose the shard and the epoch
// slot, its high half is the key index's hash and the admission
// sketch's counters.
func (s *store) hash(key []byte) uint64 { return maphash.Bytes(s.seed, key) }

// at returns the shard and epoch slot of a key hash.
func (s *store) at(h uint64) (*shard, uint32) {
	return &s.shards[h%nshards], uint32(h / nshards % epochSlots)
}

// locate returns key's shard and its epoch slot in that shard.
func (s *store) locate(key []byte) (*shard, uint32) { return s.at(s.hash(key)) }

func (s *store) shard(key []byte) *shard {
	sh, _ := s.locate(key)
	return sh
}

// sigHash is the signature index's hash of sig.
func (s *store) sigHash(sig []byte) uint32 { return uint32(maphash.Bytes(s.seed, sig) >> 32) }

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

// findLocked returns the slot of sig's entry, expired or not, and its
// bytes.
func findLocked(sh *shard, sig []byte, h uint32) (loc, bool) {
	for it := sh.sigs.Find(h); it.Next(); {
		if l := it.Value(); bytes.Equal(entrySig(l.data), sig) {
			return *l, true
		}
	}
	return loc{}, false
}

// hitLocked returns the reply of sig's live entry (h is its sigHash) and
// marks the entry used, or drops it if it expired.
func (s *store) hitLocked(sh *shard, sig []byte, h uint32, now int64) ([]byte, bool) {
	l, ok := findLocked(sh, sig, h)
	if !ok {
		return nil, false
	}
	if exp := entryExpires(l.data); exp != 0 && now >= exp {
		s.removeLocked(sh, l.pos)
		s.stats.expired.Add(1)
		return nil, false
	}
	sh.marks[l.pos/64] |= 1 << (l.pos % 64)
	return entryReply(l.data), true
}

// peek reports whether key's entry for sig is live and when it was
// filled, changing nothing.
func (s *store) peek(key, sig []byte, now int64) (filled int64, ok bool) {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	l, ok := findLocked(sh, sig, s.sigHash(sig))
	if !ok {
		return 0, false
	}
	if exp := entryExpires(l.data); exp != 0 && now >= exp {
		return 0, false
	}
	return sh.ents[l.pos].filled, true
}

// insert caches reply for sig under t, if t still holds and the reply
// fits. It copies sig, key and reply into the entry's bytes.
func (s *store) insert(sh *shard, t ticket, sig string, key, reply []byte, expires int64) {
	size := entrySize(len(sig), len(key), len(reply))
	if size > s.maxEnt {
		s.stats.tooLarge.Add(1)
		return
	}
	sigHash := uint32(maphash.String(s.seed, sig) >> 32)
	keyHash := uint32(maphash.Bytes(s.seed, key) >> 32)
	data := make([]byte, hdrLen+len(sig)+len(reply)+len(key))
	binary.LittleEndian.PutUint64(data[hdrExpires:], uint64(expires))
	binary.LittleEndian.PutUint32(data[hdrSigLen:], uint32(len(sig)))
	binary.LittleEndian.PutUint32(data[hdrRepLen:], uint32(len(reply)))
	copy(data[hdrLen+len(sig)+len(reply):], key)
	copy(data[hdrLen+len(sig):], reply)
	copy(data[hdrLen:], sig)

	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !s.valid(sh, t) {
		s.stats.refused.Add(1)
		return
	}
	if old, ok := findLocked(sh, entrySig(data), sigHash); ok {
		s.removeLocked(sh, old.pos)
	}
	for sh.bytes+size > s.budget && sh.sigs.Len() > 0 {
		s.evictLocked(sh)
	}
	pos := sh.allocLocked()
	e := &sh.ents[pos]
	*e = entry{data: data, filled: t.at, sigHash: sigHash, keyHash: keyHash}
	sh.sigs.Insert(sigHash, loc{pos: pos, data: data})
	if head, ok := keyHeadLocked(sh, entryKey(data), keyHash); ok {
		e.next = *head + 1
		sh.ents[*head].prev = pos + 1
		*head = pos
	} else {
		sh.keys.Insert(keyHash, pos)
	}
	sh.bytes += size
	s.stats.bytes.Add(size)
	s.stats.entries.Add(1)
	s.stats.fills.Add(1)
}

// keyHeadLocked returns, in place, the key index's value for key: the
// slab position of its first entry.
func keyHeadLocked(sh *shard, key []byte, h uint32) (*uint32, bool) {
	for it := sh.keys.Find(h); it.Next(); {
		if v := it.Value(); bytes.Equal(entryKey(sh.ents[*v].data), key) {
			return v, true
		}
	}
	return nil, false
}

// allocLocked returns a free slab position.
func (sh *shard) allocLocked() uint32 {
	if n := len(sh.free); n > 0 {
		pos := sh.free[n-1]
		sh.free = sh.free[:n-1]
		return pos
	}
	pos := uint32(len(sh.ents))
	sh.ents = append(sh.ents, entry{})
	if int(pos/64) >= len(sh.marks) {
		sh.marks = append(sh.marks, 0)
	}
	return pos
}

// evictLocked drops the first entry at or after the hand that was not
// hit since the hand last passed it, clearing the marks it passes.
func (s *store) evictLocked(sh *shard) {
	for {
		if sh.hand >= len(sh.ents) {
			sh.hand = 0
		}
		pos := uint32(sh.hand)
		sh.hand++
		if sh.ents[pos].data == nil {
			continue
		}
		if bit := uint64(1) << (pos % 64); sh.marks[pos/64]&bit != 0 {
			sh.marks[pos/64] &^= bit
			continue
		}
		s.removeLocked(sh, pos)
		s.stats.evictions.Add(1)
		return
	}
}

// removeLocked drops the entry at pos from both indexes and the slab.
func (s *store) removeLocked(sh *shard, pos uint32) {
	e := &sh.ents[pos]
	for it := sh.sigs.Find(e.sigHash); it.Next(); {
		if it.Value().pos == pos {
			it.Delete()
			break
		}
	}
	if e.prev != 0 {
		sh.ents[e.prev-1].next = e.next
	} else {
		// The key's first entry: the key index points at it.
		for it := sh.keys.Find(e.keyHash); it.Next(); {
			if v := it.Value(); *v == pos {
				if e.next != 0 {
					*v = e.next - 1
				} else {
					it.Delete()
				}
				break
			}
		}
	}
	if e.next != 0 {
		sh.ents[e.next-1].prev = e.prev
	}
	d := e.data
	size := entrySize(len(entrySig(d)), len(entryKey(d)), len(entryReply(d)))
	*e = entry{}
	sh.marks[pos/64] &^= 1 << (pos % 64)
	sh.free = append(sh.free, pos)
	sh.bytes -= size
	s.stats.bytes.Add(-size)
	s.stats.entries.Add(-1)
}

// invalidate drops every entry of key and refuses the fills of its epoch slot
// in flight.
func (s *store) invalidate(key []byte) {
	h := s.hash(key)
	sh, slot := s.at(h)
	sh.mu.Lock()
	sh.epochs[slot].Add(1)
	for {
		head, ok := keyHeadLocked(sh, key, uint32(h>>32))
		if !ok {
			break
		}
		s.removeLocked(sh, *head)
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
		s.stats.entries.Add(-int64(sh.sigs.Len()))
		// The indexes keep their memory for the refill; the slab lets
		// go of the entries' bytes.
		sh.sigs.Clear()
		sh.keys.Clear()
		clear(sh.ents)
		sh.ents = sh.ents[:0]
		sh.free = sh.free[:0]
		clear(sh.marks)
		sh.marks = sh.marks[:0]
		sh.hand = 0
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
