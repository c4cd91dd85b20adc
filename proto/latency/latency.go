// Package latency is the one latency bucket scheme of keyway.v1.
// LatencyHistogram: proxies count into it (dataplane/telemetry) and the
// control plane merges and reads it (controlplane/telemetry). It lives
// beside the message that documents it so neither plane defines it.
//
// Bucket i counts latencies in (Bound(i-1), Bound(i)] with
// Bound(i) = 1µs * 2^(i/4); bucket 0 also holds everything at or below
// 1µs, and the last bucket is open (above ~67s).
package latency

import (
	"math"
	"time"
)

// NumBuckets is the number of buckets a proxy counts into. Reports may
// carry fewer: trailing empty buckets are dropped on the wire.
const NumBuckets = 106

// BoundSeconds is the exact upper bound of bucket i, in seconds, for any
// i; the last bucket (NumBuckets-1) is open whatever this returns.
func BoundSeconds(i int) float64 { return 1e-6 * math.Exp2(float64(i)/4) }

// boundNanos[i] is Bound(i) in whole nanoseconds, rounded down so that an
// integer latency d is in bucket i exactly when d <= boundNanos[i].
var boundNanos = func() (b [NumBuckets - 1]uint64) {
	for i := range b {
		b[i] = uint64(1000 * math.Exp2(float64(i)/4))
	}
	return b
}()

// Bound is the upper bound of bucket i rounded down to a nanosecond;
// +Inf (the largest Duration) for the open last bucket.
func Bound(i int) time.Duration {
	if i >= NumBuckets-1 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(boundNanos[i])
}

// BucketOf is the bucket that counts latency d. It does not allocate; the
// proxy calls it once per request.
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

// AddBuckets adds src into dst, growing dst as needed (reports drop
// trailing empty buckets, so lengths differ), and returns dst.
func AddBuckets(dst, src []uint64) []uint64 {
	if len(src) > len(dst) {
		dst = append(dst, make([]uint64, len(src)-len(dst))...)
	}
	for i, c := range src {
		dst[i] += c
	}
	return dst
}

// QuantileSeconds estimates the q-quantile (0 < q <= 1) of buckets in
// this scheme, of any length, in seconds: linear interpolation inside the
// bucket that holds it, the lower bound when that is the open bucket, 0
// for no observations. A shorter slice's last bucket is a closed one
// whose followers were empty, so it is interpolated too.
func QuantileSeconds(buckets []uint64, q float64) float64 {
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
			lo = BoundSeconds(i - 1)
		}
		if i >= NumBuckets-1 {
			return lo
		}
		frac := min(max((rank-cum)/float64(c), 0), 1)
		return lo + (BoundSeconds(i)-lo)*frac
	}
	return 0
}

// Quantile is QuantileSeconds as a Duration, rounded down to a
// nanosecond so it never exceeds Bound of its bucket.
func Quantile(buckets []uint64, q float64) time.Duration {
	return time.Duration(QuantileSeconds(buckets, q) * 1e9)
}
