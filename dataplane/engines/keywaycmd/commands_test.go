package keywaycmd

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/engines/upstream"
	"keyway.dev/dataplane/redistest"
	dpupstream "keyway.dev/dataplane/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func forward(name string) *keywayv1.Engine {
	return &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: name}}}
}

func registry() *engine.Registry {
	r := engine.NewRegistry()
	engine.Add(r, "commands", Build)
	engine.Add(r, "upstream", upstream.Build)
	return r
}

// TestLocksAgainstRedis runs the lock commands through the real upstream
// layer to a real redis-server.
func TestLocksAgainstRedis(t *testing.T) {
	srv := redistest.Start(t)
	pools := dpupstream.NewPools(dpupstream.Options{}, nil)
	t.Cleanup(pools.Close)
	ups := []*keywayv1.Upstream{
		{Name: "app", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: srv.Addr}}},
		{Name: "locks", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: srv.Addr}}},
	}
	b := engine.NewBuilder(registry(), pools, "jobs", ups, nil)
	root, err := b.Build(&keywayv1.Engine{Kind: &keywayv1.Engine_Commands{Commands: &keywayv1.Commands{
		Locks: forward("locks"), LockPrefix: "t:lock:", Next: forward("app"),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Release())

	do := func(line string) string {
		t.Helper()
		r := enginetest.Line(line)
		engine.Do(context.Background(), root, r)
		return enginetest.Reply(r)
	}
	steps := []struct{ line, want string }{
		{"KEYWAY.LOCK job 60000", ":1\r\n"},
		{"KEYWAY.LOCK job 60000", "$-1\r\n"}, // held
		{"KEYWAY.EXTEND job 2 60000", ":0\r\n"},
		{"KEYWAY.EXTEND job 1 120000", ":1\r\n"},
		{"KEYWAY.UNLOCK job 2", ":0\r\n"},
		{"KEYWAY.UNLOCK job 1", ":1\r\n"},
		{"KEYWAY.UNLOCK job 1", ":0\r\n"},
		{"KEYWAY.LOCK job 60000", ":3\r\n"}, // the fence only grows
		{"KEYWAY.LOCK other 1000", ":1\r\n"},
		{"SET plain v", "+OK\r\n"},
		{"GET plain", "$1\r\nv\r\n"},
		{"KEYWAY.LOCK job ten", "-ERR value is not an integer or out of range\r\n"},
		{"KEYWAY.LOCK job 0", "-ERR invalid expire time in 'keyway.lock' command\r\n"},
		{"KEYWAY.UNLOCK job x", "-ERR value is not an integer or out of range\r\n"},
		{"KEYWAY.EXTEND job 3 -5", "-ERR invalid expire time in 'keyway.extend' command\r\n"},
	}
	for i, s := range steps {
		if got := do(s.line); got != s.want {
			t.Fatalf("step %d %s: %q, want %q", i, s.line, got, s.want)
		}
	}
	if got := srv.Do("GET", "t:lock:job"); got != "3" {
		t.Errorf("lock key holds %q, want token 3", got)
	}
	if got := srv.Do("PTTL", "t:lock:job"); !strings.HasPrefix(got, ":") || got == ":-1" || got == ":-2" {
		t.Errorf("lock key PTTL %q, want a lease", got)
	}
	t.Run("extend moves the lease", func(t *testing.T) {
		if got := do("KEYWAY.EXTEND job 3 500000"); got != ":1\r\n" {
			t.Fatalf("extend: %q", got)
		}
		got := srv.Do("PTTL", "t:lock:job")
		if ms, err := strconv.Atoi(strings.TrimPrefix(got, ":")); err != nil || ms <= 400000 || ms > 500000 {
			t.Errorf("PTTL after extend = %q, want in (400000, 500000]", got)
		}
	})
}

func TestRouting(t *testing.T) {
	locks := enginetest.NewRecorder("locks", "")
	locks.ReplyFunc = func(r *engine.Request) string {
		switch r.Cmd.Name() {
		case "INCR":
			return ":7\r\n"
		case "SET":
			return "+OK\r\n"
		}
		return ":1\r\n"
	}
	next := enginetest.NewRecorder("next", "")
	c := &Commands{locks: locks, prefix: "keyway:lock:", next: next}
	b := enginetest.Lines("GET a", "KEYWAY.LOCK l 100", "SET b v", "KEYWAY.UNLOCK l 7")
	c.Serve(context.Background(), b)
	if got, want := enginetest.Replies(b), []string{"+OK\r\n", ":7\r\n", "+OK\r\n", ":1\r\n"}; !reflect.DeepEqual(got, want) {
		t.Errorf("replies %q, want %q", got, want)
	}
	if got, want := next.Batches(), [][]string{{"GET a", "SET b v"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("next saw %q, want %q", got, want)
	}
	want := []string{"INCR keyway:lock:l:fence", "SET keyway:lock:l 7 NX PX 100", "EVAL " + unlockScript + " 1 keyway:lock:l 7"}
	if got := locks.Lines(); !reflect.DeepEqual(got, want) {
		t.Errorf("locks saw %q, want %q", got, want)
	}

	t.Run("errors from locks reach the client", func(t *testing.T) {
		failing := enginetest.NewRecorder("locks", "-ERR down\r\n")
		c := &Commands{locks: failing, prefix: "p:", next: next}
		r := enginetest.Line("KEYWAY.LOCK l 100")
		engine.Do(context.Background(), c, r)
		if got := enginetest.Reply(r); got != "-ERR down\r\n" {
			t.Errorf("reply %q", got)
		}
	})
}

func TestBuildAndExplain(t *testing.T) {
	ups := []*keywayv1.Upstream{
		{Name: "app", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:1"}}},
		{Name: "locks", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:2"}}},
	}
	b := engine.NewBuilder(registry(), enginetest.NewUpstreams(), "d", ups, nil)
	if _, err := b.Build(&keywayv1.Engine{Kind: &keywayv1.Engine_Commands{Commands: &keywayv1.Commands{Next: forward("app")}}}); err == nil || !strings.Contains(err.Error(), "locks is required") {
		t.Errorf("no locks: %v", err)
	}
	b.Release()()
	b = engine.NewBuilder(registry(), enginetest.NewUpstreams(), "d", ups, nil)
	root, err := b.Build(&keywayv1.Engine{Kind: &keywayv1.Engine_Commands{Commands: &keywayv1.Commands{Locks: forward("locks"), Next: forward("app")}}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()()
	for _, tt := range []struct{ line, upstream, note string }{
		{"KEYWAY.LOCK job 100", "locks", "INCR keyway:lock:job:fence, then SET keyway:lock:job <token> NX PX"},
		{"KEYWAY.EXTEND job 1 100", "locks", "compare-and-set of keyway:lock:job"},
		{"GET k", "app", "not a Keyway command"},
	} {
		x := engine.Explain(root, enginetest.Line(tt.line))
		if x.Upstream != tt.upstream || !strings.Contains(x.String(), tt.note) {
			t.Errorf("%s: explain:\n%s", tt.line, x)
		}
	}
}

func BenchmarkServe(b *testing.B) {
	c := &Commands{locks: enginetest.NewStatic(":1\r\n"), prefix: "keyway:lock:", next: enginetest.NewStatic(enginetest.OK)}
	ctx := context.Background()
	for _, bc := range []struct {
		name  string
		batch engine.Batch
	}{
		{"pass-get", enginetest.Lines("GET user:1")},
		{"pass-pipeline", enginetest.Lines("GET a", "SET b v", "GET c", "INCR d")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.Serve(ctx, bc.batch)
			}
		})
	}
}
