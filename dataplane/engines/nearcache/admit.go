package nearcache

// admission counts reads of keys not yet cached, per window, so a key is
// cached only after it was read often enough on this proxy. It is the
// per-shard cousin of the telemetry's hot-key sketch, which samples and
// reports; admission counts every read of the keys it decides on.
//
// The counts are a count-min sketch, not a map: two 8-bit counters per
// key, both in one 64-byte block chosen by the key's hash, a key's count
// being the smaller of its two, and a read raising only the counters at
// that minimum (conservative update). A map of the keys read in a window
// was itself a million-entry map on the read path, and it had to be
// bounded: it started over whenever a shard saw 4096 cold keys in a
// window, which under a Zipf tail was every few seconds and forgot the
// first reads of keys read again a little later. The sketch forgets
// nothing within the window and costs one cache line per read; in
// return a key whose counters other keys share may be admitted after
// fewer reads than admit_reads (never after more). The whole sketch is
// cleared when the window ends, as the map was.
type admission struct {
	counts []uint8 // admitBlocks blocks of 64 counters, made on first use
	start  int64
}

// admitBlocks is the number of 64-counter blocks per shard: 64 KiB a
// shard, 4 MiB a near cache with admit_reads above 1. A shard that sees
// 6,000 cold keys in a window (400k over the proxy) has about a sixth of
// its counters raised, and about 3 % of keys read once look read twice.
const admitBlocks = 1024

// maxAdmitCount is where counters stop: admit_reads above it counts as
// that many reads.
const maxAdmitCount = 255

// admitLocked counts a read of the key whose hash (store.hash) is h and
// reports whether it reaches need within window (nanoseconds).
func (a *admission) admitLocked(h uint64, need uint32, window, now int64) bool {
	if need <= 1 {
		return true
	}
	if a.counts == nil || now-a.start > window {
		if a.counts == nil {
			a.counts = make([]uint8, admitBlocks*64)
		} else {
			clear(a.counts)
		}
		a.start = now
	}
	// The shard and epoch slot took the hash's low 12 bits; the block
	// and the two counters take bits of their own.
	block := int(h>>12) % admitBlocks * 64
	i, j := int(h>>22)%64, int(h>>56)%64
	if j == i {
		j ^= 1
	}
	ci, cj := &a.counts[block+i], &a.counts[block+j]
	n := min(*ci, *cj)
	limit := uint8(min(need, maxAdmitCount))
	if n < limit {
		n++
		*ci, *cj = max(*ci, n), max(*cj, n)
	}
	return n >= limit
}
