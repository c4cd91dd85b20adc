package main

import (
	"context"
	"log/slog"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keyway.dev/integration/harness"
)

// TestClusterWorkloads starts what a cluster workload needs with the
// benchmark's own helpers (a 3-primary cluster, keyway-proxy with a
// redis_cluster policy), then runs short loads of every shape through
// both targets and checks the counts and the error accounting.
func TestClusterWorkloads(t *testing.T) {
	proxyBin := harness.Build(t).Proxy
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Fatalf("redis-cli not installed (make deps): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ps := &procs{dir: t.TempDir()}
	b := &bench{cfg: config{proxyBin: proxyBin, clients: 4, keys: 500, valueSize: 64, mgetKeys: 10,
		clusterTargets: []string{clusterClient, keyway}, timeout: time.Minute, reps: 1, scale: 1},
		log: slog.New(slog.DiscardHandler), ps: ps}
	t.Cleanup(func() {
		for _, c := range b.closers {
			_ = c()
		}
		ps.stopAll()
		for _, p := range ps.started {
			if !p.exited() {
				t.Errorf("%s still running after stopAll", p.name)
			}
		}
	})
	if err := b.startCluster(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(b.cluster.seeds()); got != clusterPrimaries {
		t.Fatalf("%d nodes, want %d", got, clusterPrimaries)
	}
	if got := b.clusterNames(); len(got) != 2 {
		t.Fatalf("usable cluster targets %v, want both", got)
	}
	targets := map[string]clusterTarget{}
	for _, tg := range b.clusterTargets {
		targets[tg.name] = tg
	}
	cc := targets[clusterClient].client.(*redis.ClusterClient)
	var keys atomic.Int64 // ForEachMaster asks the primaries in parallel
	if err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		k, err := n.DBSize(ctx).Result()
		if k == 0 {
			t.Errorf("primary %s holds no keys: the fill did not spread", n.Options().Addr)
		}
		keys.Add(k)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := keys.Load(); got != 500 {
		t.Fatalf("cluster holds %d keys after the fill, want 500", got)
	}

	tests := []struct {
		name     string
		target   string
		op       clusterOp
		pipeline int
		asPipe   bool
		size     int // value size the load expects
		wantBad  bool
	}{
		{"clusterclient get", clusterClient, opGet, 1, false, 64, false},
		{"clusterclient set pipelined", clusterClient, opSet, 16, false, 64, false},
		{"clusterclient mget as pipeline", clusterClient, opMGet, 1, true, 64, false},
		// What a ClusterClient user meets when sending the MGET as is.
		{"clusterclient mget across slots fails", clusterClient, opMGet, 1, false, 64, true},
		{"keyway get", keyway, opGet, 1, false, 64, false},
		{"keyway get pipelined", keyway, opGet, 16, false, 64, false},
		{"keyway mget", keyway, opMGet, 1, false, 64, false},
		{"keyway uneven last pipeline", keyway, opGet, 7, false, 64, false},
		{"wrong size is an error", keyway, opMGet, 1, false, 65, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := clusterSpec{op: tt.op, clients: 4, pipeline: tt.pipeline, requests: 1001, keys: 500,
				valueSize: tt.size, mgetKeys: 10, mgetAsPipeline: tt.asPipe, timeout: time.Minute}
			res, err := runClusterLoad(ctx, targets[tt.target].client, b.keySet, spec)
			if err != nil {
				t.Fatal(err)
			}
			if res.requests != spec.requests {
				t.Fatalf("%d requests answered, want %d", res.requests, spec.requests)
			}
			if tt.wantBad && res.errors < spec.requests*9/10 {
				t.Fatalf("%d of %d replies flagged, want nearly all", res.errors, spec.requests)
			}
			if !tt.wantBad && res.errors != 0 {
				t.Fatalf("%d replies flagged as wrong", res.errors)
			}
			if res.hist.n != uint64(spec.requests) || res.hist.quantile(0.5) <= 0 {
				t.Fatalf("histogram holds %d latencies, median %v", res.hist.n, res.hist.quantile(0.5))
			}
		})
	}

	t.Run("measured workload accounts proxy and redis cpu", func(t *testing.T) {
		b.cfg.scale = 0.01 // the floor of 1,000 requests per test
		if err := b.runClusterWorkload(ctx, "C1"); err != nil {
			t.Fatal(err)
		}
		if len(b.records) != 2 {
			t.Fatalf("%d records, want one per target", len(b.records))
		}
		for _, r := range b.records {
			if r.Requests != 1000 || r.Errors != 0 || r.Ops <= 0 {
				t.Fatalf("%s: %d requests, %d errors, %.0f ops/s", r.Target, r.Requests, r.Errors, r.Ops)
			}
			if r.RedisCPUS <= 0 {
				t.Errorf("%s: no redis CPU counted over %d MGETs", r.Target, r.Requests)
			}
			if (r.Target == keyway) != (r.ProxyCPUS > 0) {
				t.Errorf("%s: proxy CPU %v; only keyway has a proxy", r.Target, r.ProxyCPUS)
			}
		}
	})
}

func TestClusterPolicy(t *testing.T) {
	got := clusterPolicy([]string{"127.0.0.1:7000", "127.0.0.1:7001"})
	want := "c = redis_cluster(\"c\", seeds = [\"127.0.0.1:7000\", \"127.0.0.1:7001\"])\ndomain(\"default\", c)\n"
	if got != want {
		t.Fatalf("policy\n%s\nwant\n%s", got, want)
	}
}
