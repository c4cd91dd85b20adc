package main

import (
	"bytes"
	"io"
	"math"
	"strings"
	"testing"
)

func TestSummarizeClusterRatios(t *testing.T) {
	var recs []*record
	for rep, base := range []float64{100, 300} {
		recs = append(recs,
			&record{Workload: "C1", Test: "MGET", Target: clusterClient, Rep: rep + 1, Ops: base, Requests: 1000, RedisCPUS: 0.05, LoadCPUS: 0.04, WallS: 1},
			&record{Workload: "C1", Test: "MGET", Target: keyway, Rep: rep + 1, Ops: base * 1.5, Requests: 1000, ProxyCPUS: 0.02, RedisCPUS: 0.03, WallS: 1},
		)
	}
	sums := summarize(recs, []string{clusterClient, direct, keyway})
	if len(sums) != 2 || sums[0].Target != clusterClient || sums[1].Target != keyway {
		t.Fatalf("rows %+v, want clusterclient then keyway", sums)
	}
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"keyway x clusterclient", sums[1].XCluster, 1.5},
		{"keyway proxy cpu µs/req", sums[1].ProxyUsPerOp, 20},
		{"clusterclient has no proxy cpu", sums[0].ProxyUsPerOp, 0},
		{"clusterclient redis cpu µs/req", sums[0].RedisUsPerOp, 50},
		{"no direct ratio", sums[1].XDirect, 0},
		{"clusterclient client cpu µs/req", sums[0].LoadUsPerOp, 40},
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
	s := out.String()
	if strings.Contains(s, "| test | target |") {
		t.Errorf("standalone table printed without standalone rows:\n%s", s)
	}
	if !strings.Contains(s, "| cluster test |") || !strings.Contains(s, "| C1 MGET | keyway | 300 | 1.50 |") {
		t.Errorf("cluster table lacks the keyway row or its ratio:\n%s", s)
	}
	out.Reset()
	headline(&out, sums)
	if !strings.Contains(out.String(), "C1 MGET (Redis Cluster): keyway 1.50 x ClusterClient") {
		t.Errorf("headline lacks C1:\n%s", out.String())
	}
}

func TestParseClusterFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
		wantWL  int
	}{
		{"default runs cluster workloads last", nil, false, 9},
		{"cluster only", []string{"--workloads", "C1,C2"}, false, 2},
		{"unknown cluster target", []string{"--cluster-targets", "twemproxy"}, true, 0},
		{"unknown workload", []string{"--workloads", "C9"}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseFlags(tt.args, io.Discard)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			if err == nil && len(cfg.workloads) != tt.wantWL {
				t.Fatalf("workloads %v, want %d", cfg.workloads, tt.wantWL)
			}
			if err == nil && tt.args == nil && !isCluster(cfg.workloads[len(cfg.workloads)-1]) {
				t.Fatalf("workloads %v do not end with the cluster ones", cfg.workloads)
			}
		})
	}
}
