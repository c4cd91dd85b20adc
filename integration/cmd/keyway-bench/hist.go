package main

import (
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: 2^subBits buckets per power of
// two, so a recorded latency is off by at most 1/64 (1.6 %).
const subBits = 6

// numBuckets covers every positive int64 nanosecond count.
const numBuckets = (64 - subBits + 1) << subBits

// hist is a log-linear latency histogram. Recording is an index
// computation and an increment, cheap enough for every request; each load
// worker owns one and they are merged at the end.
type hist struct {
	counts [numBuckets]uint64
	n      uint64
	max    time.Duration
}

func bucketOf(d time.Duration) int {
	v := uint64(max(d, 0))
	if v < 1<<subBits {
		return int(v)
	}
	exp := bits.Len64(v) - subBits // >= 1
	return exp<<subBits | int(v>>(exp-1)&(1<<subBits-1))
}

// lowerBound is the smallest latency that lands in bucket i.
func lowerBound(i int) time.Duration {
	exp := i >> subBits
	if exp == 0 {
		return time.Duration(i)
	}
	m := uint64(i&(1<<subBits-1)) | 1<<subBits
	return time.Duration(m << (exp - 1))
}

func (h *hist) record(d time.Duration, n int) {
	h.counts[bucketOf(d)] += uint64(n)
	h.n += uint64(n)
	h.max = max(h.max, d)
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the midpoint of the bucket holding the q-th latency.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q * float64(h.n))
	if rank >= h.n {
		rank = h.n - 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen > rank {
			lo, hi := lowerBound(i), lowerBound(i+1)
			return min(lo+(hi-lo)/2, h.max)
		}
	}
	return h.max
}
