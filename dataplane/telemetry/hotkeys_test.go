package telemetry

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestHotKeysFindsTheHotKey(t *testing.T) {
	tests := []struct {
		name   string
		sample int
		share  float64 // of requests going to the hot key
	}{
		{"every request", 1, 0.05},
		{"sampled 1 in 64", 64, 0.05},
		{"sampled, dominant key", 64, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(Options{HotKeySample: tt.sample, HotKeyCapacity: 32})
			rng := rand.New(rand.NewPCG(1, 2))
			cold := make([][]byte, 10_000)
			for i := range cold {
				cold[i] = fmt.Appendf(nil, "user:%d", i)
			}
			const n = 100_000
			hot := 0
			for range n {
				key := []byte("user:hot")
				if rng.Float64() >= tt.share {
					// The cold tail: 10,000 keys, none above 0.01%.
					key = cold[rng.IntN(len(cold))]
				} else {
					hot++
				}
				r.ObserveKey("payments", key)
			}
			got := r.TakeHotKeys(3)["payments"]
			if len(got) == 0 || got[0].Key != "user:hot" {
				t.Fatalf("top keys = %v, want user:hot first", got)
			}
			// The estimate is scaled back to requests; sampling keeps it
			// within a factor of two of the truth at these volumes.
			if est := got[0].Count; est < uint64(hot)/2 || est > uint64(hot)*2 {
				t.Fatalf("estimated %d requests to the hot key, true %d", est, hot)
			}
			if again := r.TakeHotKeys(3); len(again) != 0 {
				t.Fatalf("TakeHotKeys did not start a new interval: %v", again)
			}
		})
	}
}
