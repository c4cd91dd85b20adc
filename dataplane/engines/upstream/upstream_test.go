package upstream

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func standalone(name string) *keywayv1.Upstream {
	return &keywayv1.Upstream{Name: name, Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:6379"}}}
}

func cluster(name string) *keywayv1.Upstream {
	return &keywayv1.Upstream{Name: name, Kind: &keywayv1.Upstream_Cluster{Cluster: &keywayv1.Cluster{Seeds: []string{"127.0.0.1:7000"}}}}
}

func registry() *engine.Registry {
	r := engine.NewRegistry()
	engine.Add(r, "upstream", Build)
	return r
}

func forward(name string, replicas bool) *keywayv1.Engine {
	return &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: name, ReadFromReplicas: replicas}}}
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name    string
		cfg     *keywayv1.Engine
		wantErr string
	}{
		{"standalone", forward("main", false), ""},
		{"cluster replicas", forward("big", true), ""},
		{"no name", forward("", false), "root.upstream: name is required"},
		{"unknown", forward("nope", false), `unknown upstream "nope"`},
		{"replicas of standalone", forward("main", true), "read_from_replicas needs a cluster upstream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pools := enginetest.NewUpstreams()
			b := engine.NewBuilder(registry(), pools, "test", []*keywayv1.Upstream{standalone("main"), cluster("big")}, nil)
			_, err := b.Build(tt.cfg)
			b.Release()()
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Build: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Build error = %v, want %q", err, tt.wantErr)
			}
			if held := pools.Held(); len(held) != 0 {
				t.Errorf("references still held after release: %v", held)
			}
		})
	}
}

func TestServe(t *testing.T) {
	pools := enginetest.NewUpstreams()
	pools.Get("main").Reply = "$1\r\nv\r\n"
	b := engine.NewBuilder(registry(), pools, "test", []*keywayv1.Upstream{standalone("main")}, nil)
	root, err := b.Build(forward("main", false))
	if err != nil {
		t.Fatal(err)
	}
	release := b.Release()
	if got := pools.Refs("main"); got != 1 {
		t.Errorf("refs while built = %d, want 1", got)
	}

	batch := enginetest.Lines("GET a", "GET b")
	root.Serve(context.Background(), batch)
	if got := enginetest.Replies(batch); !reflect.DeepEqual(got, []string{"$1\r\nv\r\n", "$1\r\nv\r\n"}) {
		t.Errorf("replies = %q", got)
	}
	for _, r := range batch {
		if r.Upstream != "main" {
			t.Errorf("request upstream = %q, want main", r.Upstream)
		}
	}
	if got := pools.Get("main").Batches(); !reflect.DeepEqual(got, [][]string{{"GET a", "GET b"}}) {
		t.Errorf("upstream saw batches %q, want the pipeline whole", got)
	}
	if x := engine.Explain(root, enginetest.Line("GET a")); x.Upstream != "main" {
		t.Errorf("explain upstream = %q:\n%s", x.Upstream, x)
	}
	release()
	if got := pools.Refs("main"); got != 0 {
		t.Errorf("refs after release = %d, want 0", got)
	}
}

func BenchmarkServe(b *testing.B) {
	f := &Forward{up: staticUpstream{enginetest.NewStatic("+OK\r\n")}, name: "main"}
	batch := enginetest.Lines("GET a")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		f.Serve(ctx, batch)
	}
}

type staticUpstream struct{ *enginetest.Static }

func (staticUpstream) Name() string { return "main" }
