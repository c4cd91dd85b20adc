package reject

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/engines/internal/trie"
	"keyway.dev/dataplane/engines/upstream"
	"keyway.dev/dataplane/resp"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func registry() *engine.Registry {
	r := engine.NewRegistry()
	engine.Add(r, "reject", Build)
	engine.Add(r, "upstream", upstream.Build)
	return r
}

func rejectOf(cfg *keywayv1.Reject) *keywayv1.Engine {
	if cfg.Next == nil {
		cfg.Next = &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "main"}}}
	}
	return &keywayv1.Engine{Kind: &keywayv1.Engine_Reject{Reject: cfg}}
}

var mainUpstream = []*keywayv1.Upstream{{Name: "main", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:1"}}}}

func build(t *testing.T, cfg *keywayv1.Reject) (engine.Engine, *enginetest.Upstreams) {
	t.Helper()
	pools := enginetest.NewUpstreams()
	b := engine.NewBuilder(registry(), pools, "test", mainUpstream, nil)
	root, err := b.Build(rejectOf(cfg))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(b.Release())
	return root, pools
}

func TestServe(t *testing.T) {
	cfg := func() *keywayv1.Reject {
		return &keywayv1.Reject{
			Commands:    []string{"flushall", "CONFIG|SET", "DEBUG"},
			KeyPrefixes: []string{"internal:", "secret:"},
			Message:     "refused by Keyway policy",
		}
	}
	const refused = "-ERR refused by Keyway policy\r\n"
	tests := []struct {
		name    string
		cfg     *keywayv1.Reject
		batch   []string
		replies []string
		passed  []string // what reached the upstream
	}{
		{"allowed", cfg(), []string{"GET a"}, []string{enginetest.OK}, []string{"GET a"}},
		{"command any case", cfg(), []string{"flushALL"}, []string{refused}, nil},
		{"subcommand", cfg(), []string{"config set maxmemory 1"}, []string{refused}, nil},
		{"sibling subcommand allowed", cfg(), []string{"CONFIG GET maxmemory"}, []string{enginetest.OK}, []string{"CONFIG GET maxmemory"}},
		{"container refuses all subcommands", cfg(), []string{"DEBUG SLEEP 0"}, []string{refused}, nil},
		{"key prefix", cfg(), []string{"GET internal:x"}, []string{refused}, nil},
		{"any key of a multi-key command", cfg(), []string{"MGET a secret:1"}, []string{refused}, nil},
		{"value is not a key", cfg(), []string{"SET a internal:x"}, []string{enginetest.OK}, []string{"SET a internal:x"}},
		{"pipeline passes the rest in order", cfg(), []string{"GET a", "FLUSHALL", "GET b", "DEL internal:1", "GET c"},
			[]string{enginetest.OK, refused, enginetest.OK, refused, enginetest.OK}, []string{"GET a", "GET b", "GET c"}},
		{"message with its own code", &keywayv1.Reject{Commands: []string{"KEYS"}, Message: "NOPERM not here"},
			[]string{"KEYS *"}, []string{"-NOPERM not here\r\n"}, nil},
		{"default message", &keywayv1.Reject{Commands: []string{"KEYS"}},
			[]string{"KEYS *"}, []string{"-ERR command refused by policy\r\n"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, pools := build(t, tt.cfg)
			b := enginetest.Lines(tt.batch...)
			root.Serve(context.Background(), b)
			if got := enginetest.Replies(b); !reflect.DeepEqual(got, tt.replies) {
				t.Errorf("replies\n got %q\nwant %q", got, tt.replies)
			}
			for i, r := range b {
				if wantRefused := tt.replies[i][0] == '-'; wantRefused != (r.Kind() == engine.KindRefused) {
					t.Errorf("request %d kind = %v", i, r.Kind())
				}
			}
			if got := pools.Get("main").Lines(); !reflect.DeepEqual(got, tt.passed) {
				t.Errorf("upstream saw %q, want %q", got, tt.passed)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	root, _ := build(t, &keywayv1.Reject{Commands: []string{"FLUSHALL"}, KeyPrefixes: []string{"internal:"}, Message: "no"})
	tests := []struct {
		line, upstream, refusal string
	}{
		{"GET a", "main", ""},
		{"FLUSHALL", "", "ERR no"},
		{"GET internal:1", "", "ERR no"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			x := engine.Explain(root, enginetest.Line(tt.line))
			if x.Upstream != tt.upstream || strings.TrimSpace(x.Refusal) != tt.refusal {
				t.Errorf("explain: upstream %q refusal %q:\n%s", x.Upstream, x.Refusal, x)
			}
		})
	}
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name    string
		cfg     *keywayv1.Reject
		wantErr string
	}{
		{"refuses nothing", &keywayv1.Reject{}, "refuses nothing"},
		{"typo", &keywayv1.Reject{Commands: []string{"FLUSHAL"}}, `unknown command "FLUSHAL"`},
		{"bad subcommand", &keywayv1.Reject{Commands: []string{"CONFIG|SETT"}}, `CONFIG has no subcommand "SETT"`},
		{"empty prefix", &keywayv1.Reject{KeyPrefixes: []string{""}}, "empty prefix"},
		{"duplicate prefix", &keywayv1.Reject{KeyPrefixes: []string{"a", "a"}}, "listed twice"},
		{"next fails with its path", &keywayv1.Reject{Commands: []string{"KEYS"}, Next: &keywayv1.Engine{}}, "root.reject.next: engine has no kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pools := enginetest.NewUpstreams()
			b := engine.NewBuilder(registry(), pools, "test", mainUpstream, nil)
			_, err := b.Build(rejectOf(tt.cfg))
			b.Release()()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Build error = %v, want %q", err, tt.wantErr)
			}
			if held := pools.Held(); len(held) != 0 {
				t.Errorf("references held: %v", held)
			}
		})
	}
}

func BenchmarkServe(b *testing.B) {
	tr, err := trie.New([]string{"internal:", "secret:"})
	if err != nil {
		b.Fatal(err)
	}
	rj := &Reject{commands: map[string]struct{}{"FLUSHALL": {}, "CONFIG|SET": {}}, prefixes: []string{"internal:", "secret:"}, trie: tr,
		err: errors.New("refused"), next: enginetest.NewStatic(enginetest.OK)}
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		batch engine.Batch
	}{
		{"pass", enginetest.Lines("GET user:1")},
		{"refuse", enginetest.Lines("FLUSHALL")},
		{"pipeline-mixed", enginetest.Lines("GET a", "FLUSHALL", "GET b")},
	} {
		saved := make([]resp.Command, len(c.batch))
		for i, r := range c.batch {
			saved[i] = r.Cmd
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rj.Serve(ctx, c.batch)
				for i, r := range c.batch {
					r.Reset() // refused requests must be fresh again
					r.Cmd = saved[i]
				}
			}
		})
	}
}
