package guard

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

func registry() *engine.Registry {
	r := engine.NewRegistry()
	engine.Add(r, "guard", Build)
	engine.Add(r, "upstream", upstream.Build)
	return r
}

var mainUpstream = []*keywayv1.Upstream{{Name: "main", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:1"}}}}

func guardOf(cfg *keywayv1.Guard) *keywayv1.Engine {
	if cfg.Next == nil {
		cfg.Next = &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "main"}}}
	}
	return &keywayv1.Engine{Kind: &keywayv1.Engine_Guard{Guard: cfg}}
}

func build(t *testing.T, cfg *keywayv1.Guard) (engine.Engine, *enginetest.Upstreams) {
	t.Helper()
	pools := enginetest.NewUpstreams()
	b := engine.NewBuilder(registry(), pools, "web", mainUpstream, nil)
	root, err := b.Build(guardOf(cfg))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(b.Release())
	return root, pools
}

// guardIn digs the *Guard out of the Labeled wrapper.
func guardIn(t *testing.T, e engine.Engine) *Guard {
	t.Helper()
	g, ok := e.(*engine.Labeled).Engine.(*Guard)
	if !ok {
		t.Fatalf("root is %T", e)
	}
	return g
}

func TestServe(t *testing.T) {
	long := strings.Repeat("v", 11)
	const ok = enginetest.OK
	tests := []struct {
		name    string
		cfg     *keywayv1.Guard
		batch   []string
		replies []string // "" means refused; the error text is checked by want
		want    []string // substrings of the refusals, in order
		passed  []string
		rule    Rule
	}{
		{"allow list passes listed", &keywayv1.Guard{AllowCommands: []string{"GET", "set"}},
			[]string{"GET a", "SET a b"}, []string{ok, ok}, nil, []string{"GET a", "SET a b"}, RuleAllow},
		{"allow list refuses the rest", &keywayv1.Guard{AllowCommands: []string{"GET"}},
			[]string{"DEL a"}, []string{""}, []string{`keyway: command DEL is not in domain "web"'s allow_commands`}, nil, RuleAllow},
		{"allow container covers subcommands", &keywayv1.Guard{AllowCommands: []string{"CONFIG"}},
			[]string{"CONFIG GET x"}, []string{ok}, nil, []string{"CONFIG GET x"}, RuleAllow},
		{"allow subcommand only", &keywayv1.Guard{AllowCommands: []string{"CONFIG|GET"}},
			[]string{"CONFIG GET x", "CONFIG SET x 1"}, []string{ok, ""}, []string{"command CONFIG SET is not in"}, []string{"CONFIG GET x"}, RuleAllow},
		{"deny list", &keywayv1.Guard{DenyCommands: []string{"KEYS", "FLUSHALL"}},
			[]string{"GET a", "keys *", "GET b"}, []string{ok, "", ok}, []string{`keyway: command KEYS is in domain "web"'s deny_commands`}, []string{"GET a", "GET b"}, RuleDeny},
		{"key prefixes: every key checked", &keywayv1.Guard{KeyPrefixes: []string{"user:", "cart:"}},
			[]string{"GET user:1", "MGET user:1 cart:2", "MGET user:1 x", "SET user:1 outside:value"}, []string{ok, ok, "", ok},
			[]string{`keyway: key "x" is outside this domain's key prefixes (user:, cart:)`}, []string{"GET user:1", "MGET user:1 cart:2", "SET user:1 outside:value"}, RuleKeyPrefix},
		{"key prefixes: movable keys", &keywayv1.Guard{KeyPrefixes: []string{"user:"}, AllowScripts: true},
			[]string{"EVAL return 2 user:1 other:2 arg"}, []string{""}, []string{`key "other:2" is outside`}, nil, RuleKeyPrefix},
		{"key prefixes: keyless commands pass", &keywayv1.Guard{KeyPrefixes: []string{"user:"}},
			[]string{"TIME"}, []string{ok}, nil, []string{"TIME"}, RuleKeyPrefix},
		{"max value bytes", &keywayv1.Guard{MaxValueBytes: 10},
			[]string{"SET k " + long, "SET k short", "HSET h f " + long, "GET " + long}, []string{"", ok, "", ok},
			[]string{"SET argument 2 is 11 bytes, over this domain's max_value_bytes of 10", "HSET argument 3 is 11 bytes"},
			[]string{"SET k short", "GET " + long}, RuleMaxValueBytes},
		{"max keys", &keywayv1.Guard{MaxKeys: 2},
			[]string{"MGET a b", "MGET a b c", "MSET a 1 b 2 c 3"}, []string{ok, "", ""},
			[]string{"MGET has 3 keys, over this domain's max_keys of 2", "MSET has 3 keys"}, []string{"MGET a b"}, RuleMaxKeys},
		{"pipeline at the limit passes", &keywayv1.Guard{MaxPipeline: 2},
			[]string{"GET a", "GET b"}, []string{ok, ok}, nil, []string{"GET a", "GET b"}, RuleMaxPipeline},
		{"pipeline over the limit refused whole", &keywayv1.Guard{MaxPipeline: 2},
			[]string{"GET a", "GET b", "GET c"}, []string{"", "", ""},
			[]string{"pipeline of 3 commands is over this domain's max_pipeline of 2", "max_pipeline of 2", "max_pipeline of 2"}, nil, RuleMaxPipeline},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, pools := build(t, tt.cfg)
			b := enginetest.Lines(tt.batch...)
			root.Serve(context.Background(), b)
			var refusals []string
			refused := 0
			for i, r := range b {
				if tt.replies[i] != "" {
					if got := enginetest.Reply(r); got != tt.replies[i] {
						t.Errorf("reply %d = %q, want %q", i, got, tt.replies[i])
					}
					continue
				}
				refused++
				if r.Kind() != engine.KindRefused || !strings.HasPrefix(enginetest.Reply(r), "-ERR keyway: ") {
					t.Errorf("request %d: kind %v reply %q, want a refusal", i, r.Kind(), enginetest.Reply(r))
				}
				refusals = append(refusals, enginetest.Reply(r))
			}
			for i, w := range tt.want {
				if i >= len(refusals) || !strings.Contains(refusals[i], w) {
					t.Errorf("refusals %q, want #%d to contain %q", refusals, i, w)
				}
			}
			if got := pools.Get("main").Lines(); !reflect.DeepEqual(got, tt.passed) {
				t.Errorf("upstream saw %q, want %q", got, tt.passed)
			}
			if got := guardIn(t, root).Counts().Get(tt.rule); got != uint64(refused) {
				t.Errorf("count of %s = %d, want %d", tt.rule, got, refused)
			}
		})
	}
}

func TestAudit(t *testing.T) {
	root, pools := build(t, &keywayv1.Guard{
		Audit: true, DenyCommands: []string{"KEYS"}, KeyPrefixes: []string{"web:"}, MaxPipeline: 3,
	})
	batch := []string{"GET web:1", "KEYS *", "GET other", "SET web:2 v"}
	b := enginetest.Lines(batch...)
	root.Serve(context.Background(), b)
	for i, r := range b {
		if r.Kind() != engine.KindNone || enginetest.Reply(r) != enginetest.OK {
			t.Errorf("request %d refused in audit mode: %q", i, enginetest.Reply(r))
		}
	}
	if got := pools.Get("main").Lines(); !reflect.DeepEqual(got, batch) {
		t.Errorf("upstream saw %q, want the whole batch", got)
	}
	want := map[string]uint64{"deny_commands": 1, "key_prefixes": 1, "max_pipeline": 4}
	if got := guardIn(t, root).Counts().Map(); !reflect.DeepEqual(got, want) {
		t.Errorf("counts = %v, want %v", got, want)
	}
}

func TestExplain(t *testing.T) {
	tests := []struct {
		name, line      string
		audit           bool
		upstream, refus string
	}{
		{"allowed", "GET web:1", false, "main", ""},
		{"denied", "KEYS *", false, "", `ERR keyway: command KEYS is in domain "web"'s deny_commands`},
		{"outside prefixes", "GET x", false, "", `ERR keyway: key "x" is outside this domain's key prefixes (web:)`},
		{"audit goes on", "GET x", true, "main", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, _ := build(t, &keywayv1.Guard{DenyCommands: []string{"KEYS"}, KeyPrefixes: []string{"web:"}, Audit: tt.audit})
			x := engine.Explain(root, enginetest.Line(tt.line))
			if x.Upstream != tt.upstream || x.Refusal != tt.refus {
				t.Errorf("explain: upstream %q refusal %q:\n%s", x.Upstream, x.Refusal, x)
			}
			if tt.audit && !strings.Contains(x.String(), "audit mode: would refuse by key_prefixes") {
				t.Errorf("audit step missing:\n%s", x)
			}
		})
	}
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name    string
		cfg     *keywayv1.Guard
		wantErr string
	}{
		{"typo", &keywayv1.Guard{AllowCommands: []string{"GETT"}}, `allow_commands: unknown command "GETT"`},
		{"bad subcommand", &keywayv1.Guard{DenyCommands: []string{"CONFIG|SETT"}}, `deny_commands: CONFIG has no subcommand "SETT"`},
		{"both lists", &keywayv1.Guard{AllowCommands: []string{"get"}, DenyCommands: []string{"GET"}}, "GET is in both"},
		{"empty prefix", &keywayv1.Guard{KeyPrefixes: []string{""}}, "empty prefix"},
		{"duplicate prefix", &keywayv1.Guard{KeyPrefixes: []string{"a", "a"}}, "listed twice"},
		{"next fails with its path", &keywayv1.Guard{Next: &keywayv1.Engine{}}, "root.guard.next: engine has no kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pools := enginetest.NewUpstreams()
			b := engine.NewBuilder(registry(), pools, "web", mainUpstream, nil)
			_, err := b.Build(guardOf(tt.cfg))
			b.Release()()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Build error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestReplayIsNotCheckedAgain(t *testing.T) {
	// A transaction's result replayed at EXEC was checked and counted
	// when its command was queued; counting it again would double every
	// audit figure for transactions.
	root, pools := build(t, &keywayv1.Guard{Audit: true, DenyCommands: []string{"KEYS"}})
	root.Serve(context.Background(), enginetest.Lines("KEYS *"))
	replay := enginetest.Lines("KEYS *")
	engine.Replay(context.Background(), root, replay[0])
	if got := guardIn(t, root).Counts().Get(RuleDeny); got != 1 {
		t.Fatalf("deny_commands counted %d times, want 1", got)
	}
	if n := len(pools.Get("main").Lines()); n != 2 {
		t.Fatalf("upstream saw %d requests, want 2", n)
	}
}
