package bycommand

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/engines/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

var names = []string{"reads", "writes", "admin", "blocking", "pubsub", "config", "configget", "object", "dflt"}

func registry() *engine.Registry {
	r := engine.NewRegistry()
	engine.Add(r, "by_command", Build)
	engine.Add(r, "upstream", upstream.Build)
	return r
}

func fwd(name string) *keywayv1.Engine {
	return &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: name}}}
}

func ups(names ...string) []*keywayv1.Upstream {
	var out []*keywayv1.Upstream
	for _, n := range names {
		out = append(out, &keywayv1.Upstream{Name: n, Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:1"}}})
	}
	return out
}

func byCommand(bc *keywayv1.ByCommand) *keywayv1.Engine {
	return &keywayv1.Engine{Kind: &keywayv1.Engine_ByCommand{ByCommand: bc}}
}

// full routes every class, CONFIG, CONFIG|GET and OBJECT by name; admin
// is left out when noAdmin, to see a class without a child fall to
// default.
func full(noAdmin bool) *keywayv1.Engine {
	bc := &keywayv1.ByCommand{
		Reads: fwd("reads"), Writes: fwd("writes"), Admin: fwd("admin"),
		Blocking: fwd("blocking"), Pubsub: fwd("pubsub"), Default: fwd("dflt"),
		Commands: []*keywayv1.CommandRoute{
			// The subcommand is listed before its container on purpose:
			// it must win whatever the order.
			{Names: []string{"CONFIG|GET"}, Engine: fwd("configget")},
			{Names: []string{"config"}, Engine: fwd("config")},
			{Names: []string{"OBJECT", "WAIT"}, Engine: fwd("object")},
		},
	}
	if noAdmin {
		bc.Admin = nil
	}
	return byCommand(bc)
}

func build(t testing.TB, cfg *keywayv1.Engine) (engine.Engine, *enginetest.Upstreams) {
	t.Helper()
	pools := enginetest.NewUpstreams()
	b := engine.NewBuilder(registry(), pools, "test", ups(names...), nil)
	root, err := b.Build(cfg)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(b.Release())
	return root, pools
}

func TestServe(t *testing.T) {
	tests := []struct {
		name    string
		noAdmin bool
		batch   []string
		// seen is what each child received, batch by batch.
		seen map[string][][]string
	}{
		{"read", false, []string{"GET k"}, map[string][][]string{"reads": {{"GET k"}}}},
		{"write", false, []string{"SET k v"}, map[string][][]string{"writes": {{"SET k v"}}}},
		{"dangerous is admin", false, []string{"KEYS *"}, map[string][][]string{"admin": {{"KEYS *"}}}},
		{"admin", false, []string{"FLUSHALL"}, map[string][][]string{"admin": {{"FLUSHALL"}}}},
		{"blocking", false, []string{"BLPOP q 0"}, map[string][][]string{"blocking": {{"BLPOP q 0"}}}},
		{"xread without block is a read", false, []string{"XREAD STREAMS s 0"}, map[string][][]string{"reads": {{"XREAD STREAMS s 0"}}}},
		{"xread block is blocking", false, []string{"XREAD BLOCK 0 STREAMS s 0"}, map[string][][]string{"blocking": {{"XREAD BLOCK 0 STREAMS s 0"}}}},
		{"pubsub", false, []string{"SUBSCRIBE ch"}, map[string][][]string{"pubsub": {{"SUBSCRIBE ch"}}}},
		{"name wins over class", false, []string{"OBJECT ENCODING k"}, map[string][][]string{"object": {{"OBJECT ENCODING k"}}}},
		{"name wins over blocking class", false, []string{"WAIT 1 0"}, map[string][][]string{"object": {{"WAIT 1 0"}}}},
		{"container covers subcommands", false, []string{"CONFIG SET maxmemory 1"}, map[string][][]string{"config": {{"CONFIG SET maxmemory 1"}}}},
		{"subcommand wins over container", false, []string{"config get maxmemory"}, map[string][][]string{"configget": {{"config get maxmemory"}}}},
		{"class without child goes to default", true, []string{"FLUSHALL"}, map[string][][]string{"dflt": {{"FLUSHALL"}}}},
		{"no class goes to default", false, []string{"PING"}, map[string][][]string{"dflt": {{"PING"}}}},
		{"unknown command goes to default", false, []string{"NOSUCH x"}, map[string][][]string{"dflt": {{"NOSUCH x"}}}},
		{"pipeline split by child in order", false,
			[]string{"GET a", "SET b 1", "GET c", "INCR d", "CONFIG GET x", "GET e"},
			map[string][][]string{
				"reads":     {{"GET a", "GET c", "GET e"}},
				"writes":    {{"SET b 1", "INCR d"}},
				"configget": {{"CONFIG GET x"}},
			}},
		{"pipeline on one child stays whole", false, []string{"GET a", "MGET b c", "STRLEN d"},
			map[string][][]string{"reads": {{"GET a", "MGET b c", "STRLEN d"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, pools := build(t, full(tt.noAdmin))
			for _, n := range names {
				pools.Get(n).Reply = "+" + n + "\r\n"
			}
			b := enginetest.Lines(tt.batch...)
			root.Serve(context.Background(), b)
			for _, n := range names {
				if got := pools.Get(n).Batches(); !reflect.DeepEqual(got, tt.seen[n]) {
					t.Errorf("%s saw %q, want %q", n, got, tt.seen[n])
				}
			}
			// Each reply must come from the child that saw the command,
			// in the client's order.
			for i, r := range b {
				want := ""
				for n, batches := range tt.seen {
					for _, bb := range batches {
						for _, l := range bb {
							if l == tt.batch[i] {
								want = "+" + n + "\r\n"
							}
						}
					}
				}
				if got := enginetest.Reply(r); got != want {
					t.Errorf("reply %d (%s) = %q, want %q", i, tt.batch[i], got, want)
				}
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  *keywayv1.ByCommand
		want string
	}{
		{"no default", &keywayv1.ByCommand{Reads: fwd("reads")}, "default is required"},
		{"unknown command", &keywayv1.ByCommand{Default: fwd("dflt"),
			Commands: []*keywayv1.CommandRoute{{Names: []string{"GETT"}, Engine: fwd("reads")}}}, `unknown command "GETT"`},
		{"unknown subcommand", &keywayv1.ByCommand{Default: fwd("dflt"),
			Commands: []*keywayv1.CommandRoute{{Names: []string{"CONFIG|NOPE"}, Engine: fwd("reads")}}}, `unknown subcommand "NOPE" of CONFIG`},
		{"listed twice", &keywayv1.ByCommand{Default: fwd("dflt"),
			Commands: []*keywayv1.CommandRoute{{Names: []string{"GET"}, Engine: fwd("reads")}, {Names: []string{"get"}, Engine: fwd("writes")}}}, "GET is listed twice"},
		{"no names", &keywayv1.ByCommand{Default: fwd("dflt"),
			Commands: []*keywayv1.CommandRoute{{Engine: fwd("reads")}}}, "no command names"},
		{"child error has its path", &keywayv1.ByCommand{Default: fwd("dflt"), Writes: fwd("nosuch")}, "root.by_command.writes.upstream: unknown upstream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pools := enginetest.NewUpstreams()
			b := engine.NewBuilder(registry(), pools, "test", ups(names...), nil)
			_, err := b.Build(byCommand(tt.cfg))
			b.Release()()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Build error = %v, want it to contain %q", err, tt.want)
			}
			if held := pools.Held(); len(held) != 0 {
				t.Errorf("failed build still holds %v", held)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	tests := []struct {
		name     string
		noAdmin  bool
		line     string
		note     string
		upstream string
	}{
		{"named", false, "CONFIG GET x", "command CONFIG|GET is named (CONFIG|GET)", "configget"},
		{"container", false, "CONFIG SET x 1", "command CONFIG|SET is named (CONFIG)", "config"},
		{"class", false, "GET k", "command GET is a read command", "reads"},
		{"class without child", true, "FLUSHDB", "command FLUSHDB is a admin command, which has no child: default", "dflt"},
		{"no class", false, "PING", "command PING has no class: default", "dflt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, _ := build(t, full(tt.noAdmin))
			x := engine.Explain(root, enginetest.Line(tt.line))
			if len(x.Steps) == 0 || x.Steps[0].Note != tt.note {
				t.Errorf("first step = %+v, want note %q", x.Steps, tt.note)
			}
			if x.Upstream != tt.upstream {
				t.Errorf("upstream = %q, want %q", x.Upstream, tt.upstream)
			}
		})
	}
}
