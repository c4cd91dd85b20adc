package telemetry

import (
	"time"

	"keyway.dev/proto/latency"
)

// Histogram is a plain, mergeable latency histogram in the scheme of
// keyway.dev/proto/latency (shared with the control plane): a snapshot,
// not safe for concurrent writes.
type Histogram struct {
	Buckets [latency.NumBuckets]uint64
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
	h.Buckets[latency.BucketOf(d)]++
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
	return latency.Quantile(h.Buckets[:], q)
}
