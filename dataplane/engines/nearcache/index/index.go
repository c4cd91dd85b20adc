// Package index is an open-addressing hash table for caches whose keys
// live elsewhere: it maps 32-bit hashes to small values (an entry's
// position, and whatever its caller wants beside it in the same slot),
// and a lookup hands back every value stored under the hash, for the
// caller to compare its own key bytes.
//
// Why not a Go map: in a near cache of a million entries, a map lookup
// costs a cache miss for the bucket, one for the key's bytes and one for
// the entry the value points to. A slot of this table holds the hash and
// the value side by side, slots are probed linearly (the next slot is
// usually in the same cache line), and a caller that keeps its entry's
// bytes in the value reaches them with one more miss.
//
// Slots are probed linearly from the hash's home (its low bits), and a
// deletion shifts the rest of its run back instead of leaving a
// tombstone, so runs stay as short as the load allows. The table grows
// when three quarters full. It is not safe for concurrent use.
package index

// Table maps 32-bit hashes to values of type V. Several values may share
// a hash.
type Table[V any] struct {
	slots []slot[V]
	mask  uint32
	n     int
}

// slot is empty when hash is 0; a caller's hash of 0 is stored as 1.
type slot[V any] struct {
	hash uint32
	val  V
}

const minSlots = 8

// stored maps a caller's hash to the one kept in a slot, never 0.
func stored(h uint32) uint32 {
	if h == 0 {
		return 1
	}
	return h
}

// New returns a table that holds n values before it grows.
func New[V any](n int) *Table[V] {
	t := &Table[V]{}
	t.alloc(slotsFor(n))
	return t
}

func slotsFor(n int) int {
	size := minSlots
	for size*3/4 < n {
		size *= 2
	}
	return size
}

func (t *Table[V]) alloc(size int) {
	t.slots = make([]slot[V], size)
	t.mask = uint32(size - 1)
	t.n = 0
}

// Len returns the number of values held.
func (t *Table[V]) Len() int { return t.n }

// Slots returns the table's size, for memory accounting and tests.
func (t *Table[V]) Slots() int { return len(t.slots) }

// Insert adds v under h. It does not look for a value already held under
// h: the caller decides whether values are unique. Any Iter over t is
// invalid afterwards.
func (t *Table[V]) Insert(h uint32, v V) {
	if t.slots == nil {
		t.alloc(minSlots)
	}
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	t.place(stored(h), v)
	t.n++
}

func (t *Table[V]) place(h uint32, v V) {
	i := h & t.mask
	for t.slots[i].hash != 0 {
		i = (i + 1) & t.mask
	}
	t.slots[i] = slot[V]{hash: h, val: v}
}

func (t *Table[V]) grow() {
	old := t.slots
	t.alloc(len(old) * 2)
	for _, s := range old {
		if s.hash != 0 {
			t.place(s.hash, s.val)
			t.n++
		}
	}
}

// Clear drops every value and keeps the memory.
func (t *Table[V]) Clear() {
	clear(t.slots)
	t.n = 0
}

// Reset drops every value and the memory beyond what n values need.
func (t *Table[V]) Reset(n int) {
	if size := slotsFor(n); size < len(t.slots) {
		t.alloc(size)
		return
	}
	t.Clear()
}

// Find returns an iterator over the values held under h.
func (t *Table[V]) Find(h uint32) Iter[V] {
	h = stored(h)
	return Iter[V]{t: t, h: h, i: h & t.mask, fresh: true}
}

// Iter walks the values held under one hash, in probe order. It is valid
// until the table changes other than through its own Delete.
type Iter[V any] struct {
	t     *Table[V]
	h     uint32
	i     uint32
	fresh bool // slot i has not been looked at yet
}

// Next moves to the next value under the iterator's hash and reports
// whether there is one.
func (it *Iter[V]) Next() bool {
	t := it.t
	if len(t.slots) == 0 {
		return false
	}
	if !it.fresh {
		it.i = (it.i + 1) & t.mask
	}
	it.fresh = false
	for {
		s := &t.slots[it.i]
		if s.hash == 0 {
			return false
		}
		if s.hash == it.h {
			return true
		}
		it.i = (it.i + 1) & t.mask
	}
}

// Value returns the current value, in place: a caller may change it.
func (it *Iter[V]) Value() *V { return &it.t.slots[it.i].val }

// Delete removes the current value. The run after it shifts back by one
// where that brings a value nearer its home, so no tombstone is left;
// the values shifted into the current slot are still ahead of the
// iterator, which looks at that slot again on Next.
func (it *Iter[V]) Delete() {
	t := it.t
	hole := it.i
	j := hole
	for {
		j = (j + 1) & t.mask
		s := t.slots[j]
		if s.hash == 0 {
			break
		}
		home := s.hash & t.mask
		// s may move to the hole if the hole lies on its probe path,
		// from its home to j: the hole is no further from home than j.
		if (hole-home)&t.mask <= (j-home)&t.mask {
			t.slots[hole] = s
			hole = j
		}
	}
	t.slots[hole] = slot[V]{}
	t.n--
	it.fresh = true
}

// All calls f for every value with its hash, in slot order, until f
// returns false. f must not change the table.
func (t *Table[V]) All(f func(h uint32, v *V) bool) {
	for i := range t.slots {
		if s := &t.slots[i]; s.hash != 0 && !f(s.hash, &s.val) {
			return
		}
	}
}
