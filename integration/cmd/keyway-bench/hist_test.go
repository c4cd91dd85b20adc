package main

import (
	"testing"
	"time"
)

func TestHistQuantile(t *testing.T) {
	tests := []struct {
		name   string
		values []time.Duration
		q      float64
		want   time.Duration
	}{
		{"single", []time.Duration{50 * time.Microsecond}, 0.5, 50 * time.Microsecond},
		{"tiny", []time.Duration{3, 3, 3}, 0.99, 3},
		{"median of spread", []time.Duration{10 * time.Microsecond, 20 * time.Microsecond, 30 * time.Microsecond}, 0.5, 20 * time.Microsecond},
		{"p99 sees the tail", append(repeat(time.Millisecond, 98), 9*time.Millisecond, 9*time.Millisecond), 0.99, 9 * time.Millisecond},
		{"seconds", []time.Duration{2 * time.Second}, 0.5, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h hist
			for _, v := range tt.values {
				h.record(v, 1)
			}
			got := h.quantile(tt.q)
			if diff := float64(got-tt.want) / float64(tt.want); diff > 1.0/64 || diff < -1.0/64 {
				t.Fatalf("quantile(%v) = %v, want %v within 1/64", tt.q, got, tt.want)
			}
		})
	}
}

func TestBucketBounds(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 63, 64, 65, 127, 128, 1000, 123456789, time.Hour} {
		i := bucketOf(d)
		if lo, hi := lowerBound(i), lowerBound(i+1); d < lo || d >= hi {
			t.Errorf("%v in bucket %d = [%v, %v)", d, i, lo, hi)
		}
	}
}

func TestMergeCounts(t *testing.T) {
	var a, b hist
	a.record(time.Microsecond, 3)
	b.record(time.Millisecond, 1)
	a.merge(&b)
	if a.n != 4 || a.max != time.Millisecond {
		t.Fatalf("merged n=%d max=%v, want 4 and 1ms", a.n, a.max)
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}
