package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestSummarizeRatiosPerRepetition(t *testing.T) {
	// Absolute rates drift between repetitions; ratios are taken within
	// each one, then their median.
	var recs []*record
	for rep, base := range []float64{100, 200, 400} {
		recs = append(recs,
			&record{Workload: "W1", Test: "GET", Target: direct, Rep: rep + 1, Ops: base, P50Us: 10, Requests: 1000, RedisCPUS: 0.001, WallS: 1},
			&record{Workload: "W1", Test: "GET", Target: twemproxy, Rep: rep + 1, Ops: base / 2, P50Us: 30, Requests: 1000, ProxyCPUS: 0.009, WallS: 1},
			&record{Workload: "W1", Test: "GET", Target: keyway, Rep: rep + 1, Ops: base * 0.8, P50Us: 25, Requests: 1000, ProxyCPUS: 0.004, WallS: 1},
		)
	}
	sums := summarize(recs, []string{direct, twemproxy, keyway})
	if len(sums) != 3 {
		t.Fatalf("%d rows, want 3", len(sums))
	}
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"keyway x direct", sums[2].XDirect, 0.8},
		{"keyway x twemproxy", sums[2].XTwem, 1.6},
		{"twemproxy x direct", sums[1].XDirect, 0.5},
		{"keyway cpu µs/req", sums[2].ProxyUsPerOp, 4},
		{"twemproxy cpu µs/req", sums[1].ProxyUsPerOp, 9},
		{"keyway added p50", sums[2].AddedP50Us, 15},
		{"direct ops median", sums[0].Ops, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if math.Abs(tt.got-tt.want) > 1e-9 {
				t.Fatalf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
	var out bytes.Buffer
	printTables(&out, sums)
	if !strings.Contains(out.String(), "| W1 GET | keyway |") || !strings.Contains(out.String(), "| 0.80 | 1.60 |") {
		t.Fatalf("table lacks the keyway row or its ratios:\n%s", out.String())
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
