package route

import (
	"context"
	"errors"
	"fmt"
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
	engine.Add(r, "route", Build)
	engine.Add(r, "upstream", upstream.Build)
	return r
}

func fwd(name string) *keywayv1.Engine {
	return &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: name}}}
}

func routeOf(def *keywayv1.Engine, prefixes ...any) *keywayv1.Engine {
	r := &keywayv1.Route{Default: def}
	for i := 0; i < len(prefixes); i += 2 {
		r.Routes = append(r.Routes, &keywayv1.PrefixRoute{Prefix: prefixes[i].(string), Engine: prefixes[i+1].(*keywayv1.Engine)})
	}
	return &keywayv1.Engine{Kind: &keywayv1.Engine_Route{Route: r}}
}

func ups(names ...string) []*keywayv1.Upstream {
	var out []*keywayv1.Upstream
	for _, n := range names {
		out = append(out, &keywayv1.Upstream{Name: n, Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:1"}}})
	}
	return out
}

// answer makes upstream replies tell where they came from: GET and MGET
// answer "<upstream>:<key>" per key, DEL counts its keys.
func answer(name string) func(r *engine.Request) string {
	return func(r *engine.Request) string {
		switch r.Cmd.Name() {
		case "GET":
			v := name + ":" + string(r.Cmd.Args[1])
			return fmt.Sprintf("$%d\r\n%s\r\n", len(v), v)
		case "MGET":
			out := fmt.Sprintf("*%d\r\n", len(r.Cmd.Args)-1)
			for _, k := range r.Cmd.Args[1:] {
				v := name + ":" + string(k)
				out += fmt.Sprintf("$%d\r\n%s\r\n", len(v), v)
			}
			return out
		case "DEL", "EXISTS":
			return fmt.Sprintf(":%d\r\n", len(r.Cmd.Args)-1)
		}
		return enginetest.OK
	}
}

// tree builds the test route: user: -> users, user:admin: -> admins,
// session: -> sessions, the rest -> main.
func tree(t *testing.T) (engine.Engine, *enginetest.Upstreams) {
	t.Helper()
	pools := enginetest.NewUpstreams()
	for _, n := range []string{"main", "users", "admins", "sessions"} {
		pools.Get(n).ReplyFunc = answer(n)
	}
	b := engine.NewBuilder(registry(), pools, "test", ups("main", "users", "admins", "sessions"), nil)
	root, err := b.Build(routeOf(fwd("main"), "user:", fwd("users"), "user:admin:", fwd("admins"), "session:", fwd("sessions")))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(b.Release())
	return root, pools
}

func bulks(vals ...string) string {
	out := fmt.Sprintf("*%d\r\n", len(vals))
	for _, v := range vals {
		out += fmt.Sprintf("$%d\r\n%s\r\n", len(v), v)
	}
	return out
}

func TestServe(t *testing.T) {
	tests := []struct {
		name    string
		batch   []string
		replies []string
		// seen is what each upstream received, batch by batch.
		seen map[string][][]string
	}{
		{"prefix", []string{"GET user:1"}, []string{bulks("users:user:1")[4:]},
			map[string][][]string{"users": {{"GET user:1"}}}},
		{"longest prefix", []string{"GET user:admin:7"}, []string{bulks("admins:user:admin:7")[4:]},
			map[string][][]string{"admins": {{"GET user:admin:7"}}}},
		{"no match", []string{"GET other"}, []string{bulks("main:other")[4:]},
			map[string][][]string{"main": {{"GET other"}}}},
		{"keyless", []string{"DBSIZE"}, []string{enginetest.OK},
			map[string][][]string{"main": {{"DBSIZE"}}}},
		{"same child multi-key is not split", []string{"MGET user:1 user:2"}, []string{bulks("users:user:1", "users:user:2")},
			map[string][][]string{"users": {{"MGET user:1 user:2"}}}},
		{"mget split and merged in order", []string{"MGET user:1 session:2 other user:3"},
			[]string{bulks("users:user:1", "sessions:session:2", "main:other", "users:user:3")},
			map[string][][]string{"users": {{"MGET user:1 user:3"}}, "sessions": {{"MGET session:2"}}, "main": {{"MGET other"}}}},
		{"mset split", []string{"MSET user:1 a session:1 b"}, []string{enginetest.OK},
			map[string][][]string{"users": {{"MSET user:1 a"}}, "sessions": {{"MSET session:1 b"}}}},
		{"del summed", []string{"DEL user:1 user:2 x"}, []string{":3\r\n"},
			map[string][][]string{"users": {{"DEL user:1 user:2"}}, "main": {{"DEL x"}}}},
		{"pipeline keeps per-child order around a split",
			[]string{"SET user:1 x", "MGET user:1 other", "GET other"},
			[]string{enginetest.OK, bulks("users:user:1", "main:other"), bulks("main:other")[4:]},
			map[string][][]string{"users": {{"SET user:1 x", "MGET user:1"}}, "main": {{"MGET other", "GET other"}}}},
		{"pipeline split across children", []string{"GET user:1", "GET other", "GET user:2"},
			[]string{bulks("users:user:1")[4:], bulks("main:other")[4:], bulks("users:user:2")[4:]},
			map[string][][]string{"users": {{"GET user:1", "GET user:2"}}, "main": {{"GET other"}}}},
		{"transaction on one child stays whole", []string{"MULTI", "SET user:1 a", "INCR user:2", "EXEC", "GET x"},
			[]string{enginetest.OK, enginetest.OK, enginetest.OK, enginetest.OK, bulks("main:x")[4:]},
			map[string][][]string{"users": {{"MULTI", "SET user:1 a", "INCR user:2", "EXEC"}}, "main": {{"GET x"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, pools := tree(t)
			b := enginetest.Lines(tt.batch...)
			root.Serve(context.Background(), b)
			if got := enginetest.Replies(b); !reflect.DeepEqual(got, tt.replies) {
				t.Errorf("replies\n got %q\nwant %q", got, tt.replies)
			}
			for _, n := range []string{"main", "users", "admins", "sessions"} {
				if got := pools.Get(n).Batches(); !reflect.DeepEqual(got, tt.seen[n]) {
					t.Errorf("%s saw %q, want %q", n, got, tt.seen[n])
				}
			}
		})
	}
}

func TestCrossSlot(t *testing.T) {
	tests := []struct {
		name    string
		batch   []string
		replies []string // prefixes of the replies
	}{
		{"msetnx", []string{"MSETNX user:1 a session:1 b"},
			[]string{`-CROSSSLOT keyway: keys of MSETNX route to different engines (prefix "user:" and prefix "session:") and MSETNX cannot be split`}},
		{"lua", []string{"EVAL x 2 user:1 other"}, []string{"-CROSSSLOT keyway: keys of EVAL route to different engines"}},
		{"transaction", []string{"MULTI", "SET user:1 a", "SET other b", "EXEC"},
			[]string{"+OK", "-CROSSSLOT keyway: keys of this transaction", "-CROSSSLOT", "-EXECABORT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, pools := tree(t)
			b := enginetest.Lines(tt.batch...)
			root.Serve(context.Background(), b)
			for i, r := range b {
				if !strings.HasPrefix(enginetest.Reply(r), tt.replies[i]) {
					t.Errorf("reply %d = %q, want prefix %q", i, enginetest.Reply(r), tt.replies[i])
				}
				if strings.HasPrefix(tt.replies[i], "-") && r.Kind() != engine.KindRefused {
					t.Errorf("reply %d kind = %v, want refused", i, r.Kind())
				}
			}
			for _, n := range []string{"main", "users", "sessions"} {
				if got := pools.Get(n).Lines(); len(got) != 0 {
					t.Errorf("%s was sent %q", n, got)
				}
			}
		})
	}
}

// TestSplitPartFails checks that a proxy failure of one part fails the
// whole command with the part's kind, not a merged half answer.
func TestSplitPartFails(t *testing.T) {
	tr, err := newForTest([]string{"a"}, enginetest.NewRecorder("a", bulks("1")),
		engine.Func(func(_ context.Context, b engine.Batch) {
			for _, r := range b {
				r.Fail(engine.KindTimeout, errors.New("TIMEOUT upstream did not answer"))
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	r := enginetest.Line("MGET a1 b1")
	engine.Do(context.Background(), tr, r)
	if r.Kind() != engine.KindTimeout || !strings.HasPrefix(enginetest.Reply(r), "-TIMEOUT") {
		t.Errorf("reply %q kind %v, want the part's timeout", enginetest.Reply(r), r.Kind())
	}
}

func newForTest(prefixes []string, children ...engine.Engine) (*Route, error) {
	var err error
	rt := &Route{prefixes: prefixes, targets: children}
	rt.trie, err = newTrie(prefixes)
	return rt, err
}

func TestExplain(t *testing.T) {
	root, _ := tree(t)
	tests := []struct {
		line, upstream, refusal, note string
	}{
		{"GET user:1", "users", "", `matches prefix "user:"`},
		{"GET zzz", "main", "", "matches no prefix: default"},
		{"PING", "main", "", "no key: default"},
		{"MGET session:1 x", "sessions", "", "split per child"},
		{"MSETNX user:1 a x b", "", "CROSSSLOT", ""},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			x := engine.Explain(root, enginetest.Line(tt.line))
			if x.Upstream != tt.upstream || !strings.Contains(x.Refusal, tt.refusal) || !strings.Contains(x.String(), tt.note) {
				t.Errorf("explain = upstream %q refusal %q:\n%s", x.Upstream, x.Refusal, x)
			}
		})
	}
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name    string
		cfg     *keywayv1.Engine
		wantErr string
	}{
		{"ok", routeOf(fwd("main"), "a:", fwd("main")), ""},
		{"no default", routeOf(nil, "a:", fwd("main")), "root.route: default is required"},
		{"empty prefix", routeOf(fwd("main"), "", fwd("main")), "empty prefix"},
		{"duplicate prefix", routeOf(fwd("main"), "a:", fwd("main"), "a:", fwd("main")), `prefix "a:" listed twice`},
		{"child error has its path", routeOf(fwd("main"), "a:", fwd("nope")), `root.route.routes["a:"].upstream: unknown upstream "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pools := enginetest.NewUpstreams()
			b := engine.NewBuilder(registry(), pools, "test", ups("main"), nil)
			_, err := b.Build(tt.cfg)
			b.Release()()
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Build: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Build error = %v, want %q", err, tt.wantErr)
			}
			if held := pools.Held(); len(held) != 0 {
				t.Errorf("references held after release: %v", held)
			}
		})
	}
}
