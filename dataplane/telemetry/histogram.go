package telemetry

import (
	"math"
	"time"
)

// NumBuckets is the number of latency buckets. Bucket i counts latencies in
// (Bound(i-1), Bound(i)] with Bound(i) = 1µs * 2^(i/4), the scheme
// keyway.v1.LatencyHistogram documents; bucket 0 also holds everything at
// or below 1µs, and the last bucket is open (above ~67s).
const NumBuckets = 106

// boundNanos[i] is Bound(i) in whole nanoseconds, rounded down so that an
// integer latency d is in bucket i exactly when d <= boundNanos[i].
var boundNanos = func() (b [NumBuckets - 1]uint64) {
	for i := range b {
		b[i] = uint64(1000 * math.Exp2(float64(i)/4))
	}
	return b
}()

// Bound is the upper bound of bucket i; +Inf for the last bucket.
func Bound(i int) time.Duration {
	if i >= NumBuckets-1 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(boundNanos[i])
}

// BucketOf is the bucket that counts latency d. It does not allocate.
func BucketOf(d time.Duration) int {
	if d <= 1000 {
		return 0
	}
	x := uint64(d)
	// Binary search for the first bound >= x; seven comparisons.
	lo, hi := 0, len(boundNanos)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if boundNanos[mid] < x {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// Histogram is a plain, mergeable latency histogram: a snapshot, not safe
// for concurrent writes.
type Histogram struct {
	Buckets [NumBuckets]uint64
	// SumNanos is the sum of every observed latency.
	SumNanos uint64
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 {
	var n uint64
	for _, c := range h.Buckets {
		n += c
	}
	return n
}

// Add counts one latency.
func (h *Histogram) Add(d time.Duration) {
	h.Buckets[BucketOf(d)]++
	h.SumNanos += uint64(max(d, 0))
}

// Merge adds o into h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.Buckets {
		h.Buckets[i] += c
	}
	h.SumNanos += o.SumNanos
}

// Sub is h minus an earlier snapshot of the same cumulative histogram.
func (h *Histogram) Sub(prev *Histogram) Histogram {
	var d Histogram
	for i := range h.Buckets {
		d.Buckets[i] = h.Buckets[i] - prev.Buckets[i]
	}
	d.SumNanos = h.SumNanos - prev.SumNanos
	return d
}

// Quantile estimates the q-quantile (0 < q <= 1), interpolating linearly
// inside the bucket that holds it; 0 when h is empty. An estimate in the
// open bucket is reported as its lower bound.
func (h *Histogram) Quantile(q float64) time.Duration {
	return Quantile(h.Buckets[:], q)
}

// Quantile estimates the q-quantile of buckets laid out in the Bound
// scheme, of any length (reports may carry fewer buckets than
// NumBuckets); 0 when they are empty.
func Quantile(buckets []uint64, q float64) time.Duration {
	var total uint64
	for _, c := range buckets {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var cum float64
	for i, c := range buckets {
		if c == 0 {
			continue
		}
		if cum+float64(c) < rank && i < len(buckets)-1 {
			cum += float64(c)
			continue
		}
		lo := 0.0
		if i > 0 {
			lo = float64(Bound(i - 1))
		}
		if i == len(buckets)-1 || i >= NumBuckets-1 {
			return time.Duration(lo)
		}
		hi := float64(Bound(i))
		frac := (rank - cum) / float64(c)
		return time.Duration(lo + (hi-lo)*min(max(frac, 0), 1))
	}
	return 0
}
