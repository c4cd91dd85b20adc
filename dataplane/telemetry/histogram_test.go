package telemetry

import (
	"testing"
	"time"

	"keyway.dev/proto/latency"
)

func TestHistogramMergeAndQuantile(t *testing.T) {
	var a, b Histogram
	// 90 fast requests on one histogram, 10 slow ones on another: the
	// merge must place p50 among the fast and p99 among the slow.
	for range 90 {
		a.Add(100 * time.Microsecond)
	}
	for range 10 {
		b.Add(50 * time.Millisecond)
	}
	var m Histogram
	m.Merge(&a)
	m.Merge(&b)
	if m.Count() != 100 {
		t.Fatalf("merged count = %d, want 100", m.Count())
	}
	if want := uint64(90*100*time.Microsecond + 10*50*time.Millisecond); m.SumNanos != want {
		t.Fatalf("merged sum = %d, want %d", m.SumNanos, want)
	}
	tests := []struct {
		name   string
		q      float64
		lo, hi time.Duration // the bucket that must hold the estimate
	}{
		{"p50", 0.5, latency.Bound(latency.BucketOf(100*time.Microsecond) - 1), latency.Bound(latency.BucketOf(100 * time.Microsecond))},
		{"p90", 0.9, latency.Bound(latency.BucketOf(100*time.Microsecond) - 1), latency.Bound(latency.BucketOf(100 * time.Microsecond))},
		{"p99", 0.99, latency.Bound(latency.BucketOf(50*time.Millisecond) - 1), latency.Bound(latency.BucketOf(50 * time.Millisecond))},
		{"max", 1, latency.Bound(latency.BucketOf(50*time.Millisecond) - 1), latency.Bound(latency.BucketOf(50 * time.Millisecond))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := m.Quantile(tt.q)
			if got < tt.lo || got > tt.hi {
				t.Fatalf("Quantile(%v) = %v, want within (%v, %v]", tt.q, got, tt.lo, tt.hi)
			}
		})
	}
	t.Run("relative error", func(t *testing.T) {
		// Four buckets per doubling bound the error to 2^(1/4)-1, about 19%.
		got := float64(m.Quantile(0.99)) / float64(50*time.Millisecond)
		if got < 1/1.19 || got > 1.19 {
			t.Fatalf("p99 / true value = %v, want within 19%%", got)
		}
	})
	t.Run("empty", func(t *testing.T) {
		var e Histogram
		if got := e.Quantile(0.99); got != 0 {
			t.Fatalf("empty quantile = %v, want 0", got)
		}
	})
	t.Run("sub", func(t *testing.T) {
		d := m.Sub(&a)
		if d.Count() != 10 || d.Buckets != b.Buckets {
			t.Fatalf("m - a = %d requests, want b's 10", d.Count())
		}
	})
}
