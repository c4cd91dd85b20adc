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

// recordingPin stands in for a client's dedicated connection.
type recordingPin struct {
	ups   []string
	lines []string
}

func (p *recordingPin) Forward(_ context.Context, up engine.Upstream, b engine.Batch) {
	for _, r := range b {
		p.ups = append(p.ups, up.Name())
		p.lines = append(p.lines, string(r.Cmd.Args[0])+" "+string(r.Cmd.Args[1]))
		r.Reply([]byte("+QUEUED\r\n"))
	}
}

func TestServePinned(t *testing.T) {
	tests := []struct {
		name       string
		pinned     bool
		wantShared [][]string
		wantPinned []string
		wantReply  string
	}{
		{"unpinned goes to the shared upstream", false, [][]string{{"SET a 1"}}, nil, "+OK\r\n"},
		{"pinned goes to the pin only", true, nil, []string{"SET a"}, "+QUEUED\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pools := enginetest.NewUpstreams()
			pools.Get("main").Reply = "+OK\r\n"
			b := engine.NewBuilder(registry(), pools, "test", []*keywayv1.Upstream{standalone("main")}, nil)
			root, err := b.Build(forward("main", false))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Release()()
			r := enginetest.Line("SET a 1")
			p := &recordingPin{}
			if tt.pinned {
				r.Pin = p
			}
			engine.Do(context.Background(), root, r)
			if got := enginetest.Reply(r); got != tt.wantReply {
				t.Errorf("reply = %q, want %q", got, tt.wantReply)
			}
			if got := pools.Get("main").Batches(); !reflect.DeepEqual(got, tt.wantShared) {
				t.Errorf("shared upstream saw %q, want %q", got, tt.wantShared)
			}
			if !reflect.DeepEqual(p.lines, tt.wantPinned) {
				t.Errorf("pin saw %q, want %q", p.lines, tt.wantPinned)
			}
			if tt.pinned && (len(p.ups) != 1 || p.ups[0] != "main" || r.Upstream != "main") {
				t.Errorf("pin told upstream %q, request names %q", p.ups, r.Upstream)
			}
		})
	}
}
