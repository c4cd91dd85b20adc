package latency

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestBucketOf(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		want int
	}{
		{"zero", 0, 0},
		{"negative", -5, 0},
		{"one microsecond", time.Microsecond, 0},
		{"just above 1µs", time.Microsecond + 1, 1},
		{"bound 1", Bound(1), 1},
		{"just above bound 1", Bound(1) + 1, 2},
		{"two microseconds", 2 * time.Microsecond, 4},
		{"one millisecond", time.Millisecond, 40}, // 2^(39/4)µs = 861µs < 1ms <= 2^10µs
		{"one second", time.Second, 80},
		{"above the last bound", time.Hour, NumBuckets - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := BucketOf(tt.d); got != tt.want {
				t.Fatalf("BucketOf(%v) = %d, want %d", tt.d, got, tt.want)
			}
		})
	}
}

func TestBoundScheme(t *testing.T) {
	for i := 0; i < NumBuckets-1; i++ {
		want := 1e3 * math.Exp2(float64(i)/4)
		if got := float64(Bound(i)); math.Abs(got-want) >= 1 {
			t.Fatalf("Bound(%d) = %v ns, want %v", i, got, want)
		}
		if got := BoundSeconds(i) * 1e9; math.Abs(got-want) > want*1e-12 {
			t.Fatalf("BoundSeconds(%d) = %v ns, want %v", i, got, want)
		}
		if i > 0 && BucketOf(Bound(i-1)+1) != i {
			t.Fatalf("BucketOf(Bound(%d)+1) = %d, want %d", i-1, BucketOf(Bound(i-1)+1), i)
		}
	}
	if Bound(NumBuckets-1) != time.Duration(math.MaxInt64) {
		t.Fatalf("the last bucket is not open: Bound = %v", Bound(NumBuckets-1))
	}
}

func TestQuantileSeconds(t *testing.T) {
	open := make([]uint64, NumBuckets)
	open[NumBuckets-1] = 3
	tests := []struct {
		name    string
		buckets []uint64
		q       float64
		lo, hi  float64
	}{
		{"empty", nil, 0.5, 0, 0},
		{"one bucket", []uint64{0, 0, 0, 0, 10}, 0.5, BoundSeconds(3), BoundSeconds(4)},
		{"first bucket", []uint64{4}, 0.99, 0, BoundSeconds(0)},
		{"split", []uint64{0, 0, 0, 0, 90, 0, 0, 0, 10}, 0.99, BoundSeconds(7), BoundSeconds(8)},
		// A report's last bucket is closed when shorter than the scheme.
		{"short report interpolates its last bucket", []uint64{0, 0, 10}, 1, BoundSeconds(2), BoundSeconds(2)},
		{"open bucket is its lower bound", open, 0.5, BoundSeconds(NumBuckets - 2), BoundSeconds(NumBuckets - 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := QuantileSeconds(tt.buckets, tt.q); got < tt.lo || got > tt.hi {
				t.Fatalf("QuantileSeconds = %v, want in [%v, %v]", got, tt.lo, tt.hi)
			}
		})
	}
}

func TestQuantileStaysInsideItsBucket(t *testing.T) {
	for i := 0; i < NumBuckets-1; i++ {
		b := make([]uint64, i+1)
		b[i] = 1
		got := Quantile(b, 1)
		if got > Bound(i) || (i > 0 && got < Bound(i-1)) {
			t.Fatalf("bucket %d: Quantile = %v, want within [%v, %v]", i, got, Bound(i-1), Bound(i))
		}
	}
}

func TestAddBuckets(t *testing.T) {
	got := AddBuckets([]uint64{1, 2}, []uint64{1, 1, 5})
	if want := []uint64{2, 3, 5}; !slices.Equal(got, want) {
		t.Fatalf("AddBuckets = %v, want %v", got, want)
	}
	if got := AddBuckets([]uint64{1, 2, 3}, []uint64{1}); !slices.Equal(got, []uint64{2, 2, 3}) {
		t.Fatalf("AddBuckets with a shorter src = %v", got)
	}
}

func BenchmarkBucketOf(b *testing.B) {
	var sink int
	for i := 0; b.Loop(); i++ {
		sink += BucketOf(time.Duration(i&(1<<20-1)) * 100)
	}
	_ = sink
}
