package telemetry

import (
	"math"
	"time"
)

// bound is the upper bound of latency bucket i in the scheme
// keyway.v1.LatencyHistogram documents: 1µs * 2^(i/4).
func bound(i int) float64 { return 1e-6 * math.Exp2(float64(i)/4) }

// addBuckets adds src into dst, growing dst as needed; reports drop
// trailing empty buckets, so lengths differ.
func addBuckets(dst, src []uint64) []uint64 {
	if len(src) > len(dst) {
		dst = append(dst, make([]uint64, len(src)-len(dst))...)
	}
	for i, c := range src {
		dst[i] += c
	}
	return dst
}

// maxBuckets is the proxies' bucket count; the last is open-ended.
const maxBuckets = 106

// quantile estimates the q-quantile in seconds, interpolating linearly
// inside the bucket that holds it; 0 for no observations.
func quantile(buckets []uint64, q float64) float64 {
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
			lo = bound(i - 1)
		}
		if i >= maxBuckets-1 {
			return lo
		}
		frac := min(max((rank-cum)/float64(c), 0), 1)
		return lo + (bound(i)-lo)*frac
	}
	return 0
}

// seconds converts a window length for the response.
func seconds(d time.Duration) float64 { return d.Seconds() }
