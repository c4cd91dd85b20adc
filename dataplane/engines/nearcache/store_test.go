package nearcache

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestStoreAgainstModel drives one store with random fills,
// invalidations, hits and flushes over a few keys of several signatures
// each, and checks it against a map of what was filled and not dropped
// since: nothing the model dropped is ever held (the stale-read rule),
// with a large budget everything the model holds is held, and the slab,
// both indexes, the key lists and the byte count agree after every step.
func TestStoreAgainstModel(t *testing.T) {
	for _, budget := range []int64{1 << 30, 2400 * nshards} {
		t.Run(fmt.Sprint(budget), func(t *testing.T) {
			for seed := range uint64(8) {
				storeRun(t, rand.New(rand.NewPCG(seed, 7)), budget)
			}
		})
	}
}

type modelEntry struct{ key, reply string }

func storeRun(t *testing.T, rng *rand.Rand, budget int64) {
	st := newStore(budget, budget, &stats{})
	st.live.Store(true)
	model := map[string]modelEntry{}
	keys := make([]string, 300)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	sigOf := func(k string, variant int) string { return fmt.Sprintf("%d|%s", variant, k) }
	for step := range 6000 {
		k := keys[rng.IntN(len(keys))]
		sh, slot := st.locate([]byte(k))
		switch op := rng.IntN(20); {
		case op < 12:
			sig := sigOf(k, rng.IntN(4))
			reply := fmt.Sprintf("+%d-%s\r\n", step, string(make([]byte, rng.IntN(200))))
			st.insert(sh, st.ticket(sh, slot, nanotime()), sig, []byte(k), []byte(reply), 0)
			model[sig] = modelEntry{k, reply}
		case op < 16:
			sig := sigOf(k, rng.IntN(4))
			sh.mu.Lock()
			got, ok := st.hitLocked(sh, []byte(sig), st.sigHash([]byte(sig)), nanotime())
			sh.mu.Unlock()
			if m, in := model[sig]; ok && (!in || string(got) != m.reply) {
				t.Fatalf("step %d: hit on %q gave %q, the model has %q (held %v)", step, sig, got, m.reply, in)
			}
		case op < 19:
			st.invalidate([]byte(k))
			for v := range 4 {
				delete(model, sigOf(k, v))
			}
		default:
			if rng.IntN(10) == 0 {
				st.flush()
				clear(model)
			}
		}
		checkStore(t, st, model, budget == 1<<30)
	}
	if budget < 1<<30 && st.stats.evictions.Load() == 0 {
		t.Fatal("the small budget evicted nothing; the test's sizes are off")
	}
}

// checkStore checks the store's structures against each other and the
// model: every held entry is one the model holds, with its reply; with
// exact, every model entry is held.
func checkStore(t *testing.T, st *store, model map[string]modelEntry, exact bool) {
	t.Helper()
	held := 0
	var bytes int64
	for i := range st.shards {
		sh := &st.shards[i]
		live, keys := 0, map[string]int{}
		var shBytes int64
		for pos := range sh.ents {
			e := &sh.ents[pos]
			if e.data == nil {
				continue
			}
			live++
			sig, key, reply := string(entrySig(e.data)), string(entryKey(e.data)), string(entryReply(e.data))
			shBytes += entrySize(len(sig), len(key), len(reply))
			if m, ok := model[sig]; !ok || m.key != key || m.reply != reply {
				t.Fatalf("held %q (key %q) = %q, the model has %+v, %v", sig, key, reply, m, ok)
			}
			if l, ok := findLocked(sh, []byte(sig), st.sigHash([]byte(sig))); !ok || l.pos != uint32(pos) || &l.data[0] != &e.data[0] {
				t.Fatalf("%q at %d: the signature index gives %d, %v", sig, pos, l.pos, ok)
			}
			keys[key]++
		}
		if sh.sigs.Len() != live || sh.keys.Len() != len(keys) {
			t.Fatalf("shard %d: %d entries, %d in the signature index; %d keys, %d in the key index", i, live, sh.sigs.Len(), len(keys), sh.keys.Len())
		}
		for key, n := range keys {
			head, ok := keyHeadLocked(sh, []byte(key), uint32(st.hash([]byte(key))>>32))
			if !ok {
				t.Fatalf("key %q not in the key index", key)
			}
			got, prev := 0, uint32(0)
			for p := *head + 1; p != 0; p = sh.ents[p-1].next {
				if sh.ents[p-1].prev != prev || string(entryKey(sh.ents[p-1].data)) != key {
					t.Fatalf("key %q: its list is broken at %d", key, p-1)
				}
				prev = p
				got++
			}
			if got != n {
				t.Fatalf("key %q: %d entries in its list, %d held", key, got, n)
			}
		}
		if shBytes != sh.bytes || sh.bytes > st.budget {
			t.Fatalf("shard %d: bytes %d, entries add up to %d, budget %d", i, sh.bytes, shBytes, st.budget)
		}
		held += live
		bytes += shBytes
	}
	if exact && held != len(model) {
		t.Fatalf("%d entries held, the model has %d", held, len(model))
	}
	if st.stats.bytes.Load() != bytes || st.stats.entries.Load() != int64(held) {
		t.Fatalf("stats: %d bytes, %d entries; held %d bytes, %d entries", st.stats.bytes.Load(), st.stats.entries.Load(), bytes, held)
	}
}

// TestAdmissionSketch: a key is admitted on its admit_reads-th read in a
// window, not before; reads in a window that slides by halves count
// together; and reads of many other keys in between, which a bounded map
// forgot, do not make it start over.
func TestAdmissionSketch(t *testing.T) {
	var a admission
	const window = int64(1e9)
	rng := rand.New(rand.NewPCG(3, 3))
	h := rng.Uint64()
	if a.admitLocked(h, 3, window, 0) || a.admitLocked(h, 3, window, 1) {
		t.Fatal("admitted before the third read")
	}
	for range 20000 {
		a.admitLocked(rng.Uint64(), 3, window, 2)
	}
	if !a.admitLocked(h, 3, window, 3) {
		t.Fatal("not admitted on the third read, after 20000 reads of other keys")
	}
	if a.admitLocked(h, 3, window, 3+window+1) {
		t.Fatal("admitted on the first read of a new window")
	}
	if !a.admitLocked(h, 1, window, 0) {
		t.Fatal("admit_reads 1 did not admit the first read")
	}
	// The window slides in halves: two reads less than half a window
	// apart count together wherever the halves' ends fall, two reads
	// more than a window apart never do.
	for _, gap := range []int64{1, window / 4, window/2 - 1} {
		for _, first := range []int64{0, window/2 - gap/2, window - 1, 3 * window / 2} {
			var s admission
			s.admitLocked(rng.Uint64(), 2, window, 0) // starts the clock
			k := rng.Uint64()
			if s.admitLocked(k, 2, window, first) || !s.admitLocked(k, 2, window, first+gap) {
				t.Errorf("reads at %d and %d (window %d): not admitted on the second", first, first+gap, window)
			}
		}
	}
	for _, first := range []int64{0, window / 3, window - 1} {
		var s admission
		s.admitLocked(rng.Uint64(), 2, window, 0)
		k := rng.Uint64()
		if s.admitLocked(k, 2, window, first) || s.admitLocked(k, 2, window, first+window+1) {
			t.Errorf("reads at %d and %d (window %d): admitted", first, first+window+1, window)
		}
	}
	// Keys read once, 6000 in a window per shard (about 400k a proxy):
	// how many look read twice. The sketch is sized for a few percent.
	var b admission
	false2 := 0
	for i := range 6000 {
		if b.admitLocked(rng.Uint64(), 2, window, int64(i)) {
			false2++
		}
	}
	if false2 > 6000/10 {
		t.Errorf("%d of 6000 keys read once were admitted with admit_reads 2", false2)
	}
	t.Logf("%d of 6000 keys read once admitted with admit_reads 2", false2)
	// Counters stop at 255: admit_reads above that counts as 255.
	var c admission
	h = rng.Uint64()
	n := 0
	for !c.admitLocked(h, 1000, window, 0) {
		n++
	}
	if n != maxAdmitCount-1 {
		t.Errorf("admit_reads 1000 admitted on read %d, want %d", n+1, maxAdmitCount)
	}
}
