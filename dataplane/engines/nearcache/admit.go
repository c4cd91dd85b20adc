package nearcache

// admission counts reads of keys not yet cached, so a key is cached only
// after it was read often enough on this proxy within admit_window. It
// is the per-shard cousin of the telemetry's hot-key sketch, which
// samples and reports; admission counts every read of the keys it
// decides on.
//
// The counts are a count-min sketch, not a map: two 8-bit counters per
// key, both in one 64-byte block chosen by the key's hash, a key's count
// being the smaller of its two, and a read raising only the counters at
// that minimum (conservative update). A map of the keys read in a window
// was itself a million-entry map on the read path, and it had to be
// bounded: it started over whenever a shard saw 4096 cold keys in a
// window, which under a Zipf tail was every few seconds and forgot the
// first reads of keys read again a little later. In return a key whose
// counters other keys share may be admitted after fewer reads than
// admit_reads (never after more).
//
// The window slides in two halves: each block holds the counters of the
// current half-window and of the one before, a key's count is the sum,
// and when a half ends the older half is cleared and becomes the
// current one. Reads within half a window of each other always count
// together and reads more than a window apart never do; a window that
// started over at once, as the map's did, split reads a moment apart
// when its end fell between them.
type admission struct {
	counts []uint8 // admitBlocks blocks of two halves of 32 counters, made on first use
	cur    int     // the current half of every block: 0 or 1
	start  int64   // when the current half began
}

// admitBlocks is the number of 64-byte blocks per shard: 128 KiB a
// shard, 8 MiB a near cache with admit_reads above 1. A shard that sees
// 6,000 cold keys in a window (400k over the proxy) has about a sixth of
// each half's counters raised, and about 1.5 % of keys read once look
// read twice.
const admitBlocks = 2048

// maxAdmitCount is where counters stop: admit_reads above it counts as
// that many reads.
const maxAdmitCount = 255

// admitLocked counts a read of the key whose hash (store.hash) is h and
// reports whether it reaches need within window (nanoseconds).
func (a *admission) admitLocked(h uint64, need uint32, window, now int64) bool {
	if need <= 1 {
		return true
	}
	half := max(window/2, 1)
	switch {
	case a.counts == nil:
		a.counts = make([]uint8, admitBlocks*64)
		a.start = now
	case now-a.start >= 2*half:
		clear(a.counts)
		a.start = now
	case now-a.start >= half:
		a.cur ^= 1
		for b := a.cur * 32; b < len(a.counts); b += 64 {
			clear(a.counts[b : b+32])
		}
		a.start += half
	}
	// The shard and epoch slot took the hash's low 12 bits; the block
	// and the two counters take bits of their own.
	block := int(h>>12) % admitBlocks * 64
	i, j := int(h>>23)%32, int(h>>56)%32
	if j == i {
		j ^= 1
	}
	cur, prev := block+a.cur*32, block+(a.cur^1)*32
	ci, cj := &a.counts[cur+i], &a.counts[cur+j]
	n := min(*ci, *cj)
	if n < maxAdmitCount {
		n++
		*ci, *cj = max(*ci, n), max(*cj, n)
	}
	total := uint32(n) + uint32(min(a.counts[prev+i], a.counts[prev+j]))
	return total >= min(need, maxAdmitCount)
}
