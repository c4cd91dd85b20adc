package flag

import (
	"context"
	"math"
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
	engine.Add(r, "flag", Build)
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

func flagOf(name string) *keywayv1.Engine {
	return &keywayv1.Engine{Kind: &keywayv1.Engine_Flag{Flag: &keywayv1.FlagSwitch{Flag: name, On: fwd("new"), Off: fwd("old")}}}
}

// build compiles flag("use-new") for domain "payments" on env.
func build(t testing.TB, env *engine.Env) (engine.Engine, *enginetest.Upstreams) {
	t.Helper()
	pools := enginetest.NewUpstreams()
	b := engine.NewBuilder(registry(), pools, "payments", ups("old", "new"), env)
	root, err := b.Build(flagOf("use-new"))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(b.Release())
	return root, pools
}

func set(env *engine.Env, flags ...*keywayv1.Flag) { env.SetFlags(flags) }

func flagAt(domain, name string, percent uint32) *keywayv1.Flag {
	return &keywayv1.Flag{Domain: domain, Flag: name, Percent: percent}
}

func session(i int) *engine.Session {
	return &engine.Session{ID: uint64(i), Domain: "payments", Hash: uint64(i)*2654435761 + 1}
}

// branch serves GET on session s and returns the upstream it reached.
func branch(t *testing.T, root engine.Engine, s *engine.Session) string {
	t.Helper()
	r := enginetest.Line("GET k")
	r.Session = s
	engine.Do(context.Background(), root, r)
	return r.Upstream
}

func TestBranch(t *testing.T) {
	tests := []struct {
		name  string
		flags []*keywayv1.Flag
		want  string
	}{
		{"unset flag is off", nil, "old"},
		{"off", []*keywayv1.Flag{flagAt("payments", "use-new", 0)}, "old"},
		{"on", []*keywayv1.Flag{flagAt("payments", "use-new", 100)}, "new"},
		{"another domain's flag does not count", []*keywayv1.Flag{flagAt("search", "use-new", 100)}, "old"},
		{"another flag does not count", []*keywayv1.Flag{flagAt("payments", "other", 100)}, "old"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := &engine.Env{}
			set(env, tt.flags...)
			root, _ := build(t, env)
			for i := range 100 {
				if got := branch(t, root, session(i)); got != tt.want {
					t.Fatalf("session %d went to %s, want %s", i, got, tt.want)
				}
			}
		})
	}
}

// TestLiveChange checks that a flag change reaches a built tree: flags
// are read per request, not captured at build.
func TestLiveChange(t *testing.T) {
	env := &engine.Env{}
	root, _ := build(t, env)
	s := session(1)
	if got := branch(t, root, s); got != "old" {
		t.Fatalf("before set: %s, want old", got)
	}
	set(env, flagAt("payments", "use-new", 100))
	if got := branch(t, root, s); got != "new" {
		t.Fatalf("after set: %s, want new", got)
	}
}

// TestPercent checks the share of connections on at 30% and that raising
// the flag to 60% keeps every one of them on.
func TestPercent(t *testing.T) {
	const n = 20000
	env := &engine.Env{}
	root, _ := build(t, env)
	set(env, flagAt("payments", "use-new", 30))
	on30 := map[int]bool{}
	for i := range n {
		if branch(t, root, session(i)) == "new" {
			on30[i] = true
		}
	}
	// Five binomial standard deviations, sqrt(n*p*(1-p)) = 65 here: a
	// correct bucket function lands inside with probability > 1-1e-6;
	// one that is off by a whole percent (200 connections) does not.
	tol := 5 * math.Sqrt(n*0.3*0.7)
	if d := math.Abs(float64(len(on30)) - n*0.3); d > tol {
		t.Errorf("%d of %d connections on at 30%%, want %d ± %.0f", len(on30), n, n*3/10, tol)
	}
	set(env, flagAt("payments", "use-new", 60))
	on60 := 0
	for i := range n {
		on := branch(t, root, session(i)) == "new"
		if on30[i] && !on {
			t.Fatalf("session %d was on at 30%% and is off at 60%%", i)
		}
		if on {
			on60++
		}
	}
	if d := math.Abs(float64(on60) - n*0.6); d > 5*math.Sqrt(n*0.6*0.4) {
		t.Errorf("%d of %d connections on at 60%%, want %d", on60, n, n*6/10)
	}
}

// TestMixedBatch checks that a batch holding several sessions, as a
// mirror's shadow queue sends, is decided per request, in order.
func TestMixedBatch(t *testing.T) {
	env := &engine.Env{}
	set(env, flagAt("payments", "use-new", 50))
	root, pools := build(t, env)
	var b engine.Batch
	want := map[string][]string{}
	for i := range 8 {
		s := session(i)
		r := enginetest.Line("GET k" + string(rune('0'+i)))
		r.Session = s
		b = append(b, r)
		to := branch(t, root, s)
		want[to] = append(want[to], "GET k"+string(rune('0'+i)))
	}
	pools.Get("old").Reset()
	pools.Get("new").Reset()
	root.Serve(context.Background(), b)
	for _, name := range []string{"old", "new"} {
		if got := pools.Get(name).Lines(); !reflect.DeepEqual(got, want[name]) {
			t.Errorf("%s saw %q, want %q", name, got, want[name])
		}
	}
}

func TestExplain(t *testing.T) {
	tests := []struct {
		name    string
		percent uint32
		want    string
		up      string
	}{
		{"off", 0, `flag "use-new" is off in domain payments: off`, "old"},
		{"on", 100, `flag "use-new" is on in domain payments: on`, "new"},
		{"percent", 50, `flag "use-new" is at 50% in domain payments; this connection's bucket `, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := &engine.Env{}
			set(env, flagAt("payments", "use-new", tt.percent))
			root, _ := build(t, env)
			r := enginetest.Line("GET k")
			r.Session = session(3)
			x := engine.Explain(root, r)
			if len(x.Steps) == 0 || !strings.HasPrefix(x.Steps[0].Note, tt.want) {
				t.Fatalf("steps %+v, want first note starting %q", x.Steps, tt.want)
			}
			if got := branch(t, root, session(3)); got != x.Upstream || (tt.up != "" && got != tt.up) {
				t.Errorf("explain says %s, serve went to %s (want %q)", x.Upstream, got, tt.up)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	pools := enginetest.NewUpstreams()
	b := engine.NewBuilder(registry(), pools, "payments", ups("old", "new"), nil)
	defer b.Release()()
	_, err := b.Build(&keywayv1.Engine{Kind: &keywayv1.Engine_Flag{Flag: &keywayv1.FlagSwitch{On: fwd("new"), Off: fwd("old")}}})
	if err == nil || !strings.Contains(err.Error(), "flag name is required") {
		t.Fatalf("Build error = %v, want flag name is required", err)
	}
}
