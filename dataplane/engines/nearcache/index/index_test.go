package index

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// model is the reference: the values held under each hash, as a Go map
// of multisets.
type model map[uint32][]uint32

// values collects what t holds under h, sorted.
func values(t *Table[uint32], h uint32) []uint32 {
	var got []uint32
	for it := t.Find(h); it.Next(); {
		got = append(got, *it.Value())
	}
	slices.Sort(got)
	return got
}

// remove deletes one value v under h through an iterator and reports
// whether it found one.
func remove(t *Table[uint32], h, v uint32) bool {
	for it := t.Find(h); it.Next(); {
		if *it.Value() == v {
			it.Delete()
			return true
		}
	}
	return false
}

// check compares t with m for every hash of m, and the count, and that
// every slot is reachable from its home without crossing an empty slot.
func check(t *testing.T, tb *Table[uint32], m model) {
	t.Helper()
	n := 0
	for h, vs := range m {
		want := slices.Clone(vs)
		slices.Sort(want)
		if got := values(tb, h); !slices.Equal(got, want) {
			t.Fatalf("hash %#x: got %v, want %v", h, got, want)
		}
		n += len(vs)
	}
	if tb.Len() != n {
		t.Fatalf("Len %d, want %d", tb.Len(), n)
	}
	for i, s := range tb.slots {
		if s.hash == 0 {
			continue
		}
		for j := s.hash & tb.mask; j != uint32(i); j = (j + 1) & tb.mask {
			if tb.slots[j].hash == 0 {
				t.Fatalf("slot %d (home %d) is cut off by the empty slot %d", i, s.hash&tb.mask, j)
			}
		}
	}
}

// run applies ops drawn from rng to a table and the model, checking
// them against each other as it goes. Hashes come from a small range so
// runs, collisions, wrap-around and shared hashes are common.
func run(t *testing.T, rng *rand.Rand, ops int, hashes uint32) {
	tb := New[uint32](0)
	m := model{}
	next := uint32(1)
	for op := range ops {
		h := rng.Uint32N(hashes)
		switch k := rng.IntN(10); {
		case k < 5:
			tb.Insert(h, next)
			m[stored(h)] = append(m[stored(h)], next)
			next++
		case k < 9:
			vs := m[stored(h)]
			if len(vs) == 0 {
				if remove(tb, h, 0) {
					t.Fatalf("op %d: removed a value under %#x the model does not hold", op, h)
				}
				continue
			}
			i := rng.IntN(len(vs))
			if !remove(tb, h, vs[i]) {
				t.Fatalf("op %d: value %d under %#x not found", op, vs[i], h)
			}
			vs[i] = vs[len(vs)-1]
			if vs = vs[:len(vs)-1]; len(vs) == 0 {
				delete(m, stored(h))
			} else {
				m[stored(h)] = vs
			}
		default:
			// Delete every value under h in one walk, as invalidation does.
			n := 0
			for it := tb.Find(h); it.Next(); {
				it.Delete()
				n++
			}
			if n != len(m[stored(h)]) {
				t.Fatalf("op %d: deleted %d values under %#x, want %d", op, n, h, len(m[stored(h)]))
			}
			delete(m, stored(h))
		}
		if op%97 == 0 {
			check(t, tb, m)
		}
	}
	check(t, tb, m)
	tb.Clear()
	check(t, tb, model{})
}

func TestAgainstMap(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, seed))
		// Few hashes: long runs of equal hashes; many: growth.
		run(t, rng, 5000, 64)
		run(t, rng, 20000, 1<<30)
	}
}

// TestWrapAround fills the end of a small table so runs wrap to its
// start, then deletes from the middle of a wrapped run.
func TestWrapAround(t *testing.T) {
	tb := New[uint32](5) // 8 slots
	if tb.Slots() != 8 {
		t.Fatalf("slots %d, want 8", tb.Slots())
	}
	m := model{}
	for v, h := range []uint32{6, 6, 7, 6, 0} { // 6,6,7 wrap: slots 6,7,0,1, then 0 goes to 2
		tb.Insert(h, uint32(v))
		m[stored(h)] = append(m[stored(h)], uint32(v))
	}
	check(t, tb, m)
	if !remove(tb, 6, 1) {
		t.Fatal("value 1 under 6 not found")
	}
	m[6] = []uint32{0, 3}
	check(t, tb, m)
	if !remove(tb, 7, 2) {
		t.Fatal("value 2 under 7 not found")
	}
	delete(m, 7)
	check(t, tb, m)
}

func TestGrowKeepsValues(t *testing.T) {
	tb := New[uint32](0)
	m := model{}
	for v := range uint32(10000) {
		h := v * 2654435761
		tb.Insert(h, v)
		m[stored(h)] = append(m[stored(h)], v)
	}
	if tb.Slots()*3/4 < tb.Len() {
		t.Fatalf("%d values in %d slots: over three quarters full", tb.Len(), tb.Slots())
	}
	check(t, tb, m)
	tb.Reset(10)
	if tb.Slots() != 16 {
		t.Errorf("after Reset(10): %d slots, want 16", tb.Slots())
	}
	check(t, tb, model{})
}

func TestValueInPlace(t *testing.T) {
	type pair struct {
		idx  uint32
		data []byte
	}
	tb := New[pair](0)
	tb.Insert(42, pair{1, []byte("a")})
	it := tb.Find(42)
	if !it.Next() {
		t.Fatal("not found")
	}
	it.Value().idx = 7
	it = tb.Find(42)
	if !it.Next() || it.Value().idx != 7 || string(it.Value().data) != "a" {
		t.Fatalf("got %+v", *it.Value())
	}
}

// FuzzTable drives the table with operations decoded from the input,
// against the model.
func FuzzTable(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 1, 1, 0, 9, 2, 1})
	f.Add([]byte{0, 255, 0, 255, 0, 254, 1, 255, 1, 254})
	f.Fuzz(func(t *testing.T, in []byte) {
		tb := New[uint32](0)
		m := model{}
		next := uint32(1)
		for len(in) >= 2 {
			op, h := in[0]%3, uint32(in[1])*0x01000193
			in = in[2:]
			switch op {
			case 0:
				tb.Insert(h, next)
				m[stored(h)] = append(m[stored(h)], next)
				next++
			case 1:
				if vs := m[stored(h)]; len(vs) > 0 {
					if !remove(tb, h, vs[0]) {
						t.Fatalf("value %d under %#x not found", vs[0], h)
					}
					if vs = vs[1:]; len(vs) == 0 {
						delete(m, stored(h))
					} else {
						m[stored(h)] = vs
					}
				}
			case 2:
				for it := tb.Find(h); it.Next(); {
					it.Delete()
				}
				delete(m, stored(h))
			}
		}
		check(t, tb, m)
	})
}
