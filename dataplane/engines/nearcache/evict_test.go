package nearcache

import (
	"strconv"
	"testing"
)

// TestEvictionSparesHitEntries: with the budget full, an insert evicts the
// oldest entry not hit since it was last spared, not one a read just used.
func TestEvictionSparesHitEntries(t *testing.T) {
	st := newStore(400*nshards, 400, &stats{})
	st.live.Store(true)
	// Three keys of one shard; two entries fit its share of the budget.
	sh := st.shard([]byte("a"))
	keys := []string{"a"}
	for i := 0; len(keys) < 3; i++ {
		if k := "k" + strconv.Itoa(i); st.shard([]byte(k)) == sh {
			keys = append(keys, k)
		}
	}
	fill := func(k string) {
		t.Helper()
		_, slot := st.locate([]byte(k))
		st.insert(sh, st.ticket(sh, slot, nanotime()), "sig"+k, []byte(k), []byte("+v\r\n"), 0)
	}
	has := func(k string) bool { return held(st, sh, "sig"+k) != nil }
	fill(keys[0])
	fill(keys[1])
	if !has(keys[0]) || !has(keys[1]) {
		t.Fatal("two entries do not fit the shard's budget; the test's sizes are off")
	}
	sh.mu.Lock()
	_, hit := st.hitLocked(sh, []byte("sig"+keys[0]), st.sigHash([]byte("sig"+keys[0])), nanotime())
	sh.mu.Unlock()
	if !hit {
		t.Fatal("no hit on the first entry")
	}
	fill(keys[2])
	if !has(keys[0]) || has(keys[1]) || !has(keys[2]) {
		t.Errorf("after the third fill: held %v %v %v, want the hit entry and the new one",
			has(keys[0]), has(keys[1]), has(keys[2]))
	}
	if got := st.stats.evictions.Load(); got != 1 {
		t.Errorf("evictions %d, want 1", got)
	}
}
