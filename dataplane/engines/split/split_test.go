package split

import (
	"context"
	"fmt"
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
	engine.Add(r, "split", Build)
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

// splitOf builds a Split config from weight, engine pairs.
func splitOf(by keywayv1.Split_By, pairs ...any) *keywayv1.Engine {
	s := &keywayv1.Split{By: by}
	for i := 0; i < len(pairs); i += 2 {
		s.Children = append(s.Children, &keywayv1.WeightedEngine{Weight: uint32(pairs[i].(int)), Engine: pairs[i+1].(*keywayv1.Engine)})
	}
	return &keywayv1.Engine{Kind: &keywayv1.Engine_Split{Split: s}}
}

func build(t testing.TB, cfg *keywayv1.Engine) (engine.Engine, *enginetest.Upstreams) {
	t.Helper()
	pools := enginetest.NewUpstreams()
	b := engine.NewBuilder(registry(), pools, "test", ups("a", "b", "c"), nil)
	root, err := b.Build(cfg)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(b.Release())
	return root, pools
}

// session returns a distinct session; the server gives each connection a
// stable hash, here its sequence number, which split must spread itself.
func session(i int) *engine.Session {
	return &engine.Session{ID: uint64(i), Domain: "test", Hash: uint64(i)}
}

// on returns a request for line on session s.
func on(s *engine.Session, line string) *engine.Request {
	r := enginetest.Line(line)
	r.Session = s
	return r
}

// childOf serves one request and returns the name of the upstream that
// saw it.
func childOf(t *testing.T, root engine.Engine, r *engine.Request) string {
	t.Helper()
	engine.Do(context.Background(), root, r)
	if r.Upstream == "" {
		t.Fatalf("%s reached no upstream", r.Cmd.Name())
	}
	return r.Upstream
}

// tolerance is how far a child's count may stray from n*p: five binomial
// standard deviations, sqrt(n*p*(1-p)). The hashes are deterministic, so
// the test cannot flake; five sigma still says that a correct split
// passes with any hash function (the chance a fair coin strays that far
// is under 1e-6), while a skew of one bucket range in twenty would fail.
func tolerance(n int, p float64) float64 { return 5 * math.Sqrt(float64(n)*p*(1-p)) }

func TestDistribution(t *testing.T) {
	const n = 20000
	tests := []struct {
		name    string
		by      keywayv1.Split_By
		weights []int
		req     func(i int) *engine.Request
	}{
		{"by connection 90/10", keywayv1.Split_BY_CONNECTION, []int{90, 10},
			func(i int) *engine.Request { return on(session(i), "GET k") }},
		{"by connection 1/1/2", keywayv1.Split_BY_UNSPECIFIED, []int{1, 1, 2},
			func(i int) *engine.Request { return on(session(i), "PING") }},
		{"by key 70/30", keywayv1.Split_BY_KEY, []int{70, 30},
			func(i int) *engine.Request { return on(session(1), fmt.Sprintf("GET user:%d", i)) }},
		{"by key, keyless by connection 50/50", keywayv1.Split_BY_KEY, []int{50, 50},
			func(i int) *engine.Request { return on(session(i), "DBSIZE") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names := []string{"a", "b", "c"}[:len(tt.weights)]
			var pairs []any
			total := 0
			for i, w := range tt.weights {
				pairs = append(pairs, w, fwd(names[i]))
				total += w
			}
			root, _ := build(t, splitOf(tt.by, pairs...))
			counts := map[string]int{}
			for i := range n {
				counts[childOf(t, root, tt.req(i))]++
			}
			for i, name := range names {
				p := float64(tt.weights[i]) / float64(total)
				if d := math.Abs(float64(counts[name]) - n*p); d > tolerance(n, p) {
					t.Errorf("%s got %d of %d, want %.0f ± %.0f", name, counts[name], n, n*p, tolerance(n, p))
				}
			}
		})
	}
}

func TestStable(t *testing.T) {
	tests := []struct {
		name string
		by   keywayv1.Split_By
		// reqs are served in turn; all must reach the same child. round
		// varies the sessions and keys.
		reqs func(round int) []*engine.Request
	}{
		{"connection keeps its child across commands", keywayv1.Split_BY_CONNECTION, func(round int) []*engine.Request {
			s := session(round)
			return []*engine.Request{on(s, "GET a"), on(s, "SET b 1"), on(s, "PING"), on(s, "GET zzz")}
		}},
		{"key keeps its child across connections and commands", keywayv1.Split_BY_KEY, func(round int) []*engine.Request {
			k := fmt.Sprintf("user:%d", round)
			return []*engine.Request{on(session(1), "GET "+k), on(session(2), "SET "+k+" x"), on(session(3), "EVAL x 1 "+k),
				on(session(4), "HGET "+k+" f")}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Two separate builds stand for two proxies: they must agree.
			for i := range 50 {
				cfg := splitOf(tt.by, 1, fwd("a"), 1, fwd("b"), 1, fwd("c"))
				p1, _ := build(t, cfg)
				p2, _ := build(t, cfg)
				var seen []string
				for _, r := range tt.reqs(i) {
					seen = append(seen, childOf(t, p1, r))
					r2 := enginetest.Req(strings.Fields(lineOf(r))...)
					r2.Session = r.Session
					seen = append(seen, childOf(t, p2, r2))
				}
				for _, s := range seen[1:] {
					if s != seen[0] {
						t.Fatalf("round %d: children %v, want one", i, seen)
					}
				}
			}
		})
	}
}

func lineOf(r *engine.Request) string {
	var parts []string
	for _, a := range r.Cmd.Args {
		parts = append(parts, string(a))
	}
	return strings.Join(parts, " ")
}

// TestReweight checks that raising a child's weight only moves sessions
// into it, and moves about the share it gained.
func TestReweight(t *testing.T) {
	const n = 20000
	before, _ := build(t, splitOf(keywayv1.Split_BY_CONNECTION, 90, fwd("a"), 10, fwd("b")))
	after, _ := build(t, splitOf(keywayv1.Split_BY_CONNECTION, 80, fwd("a"), 20, fwd("b")))
	moved := 0
	for i := range n {
		was := childOf(t, before, on(session(i), "GET k"))
		now := childOf(t, after, on(session(i), "GET k"))
		if was == "b" && now != "b" {
			t.Fatalf("session %d moved out of the raised child b to %s", i, now)
		}
		if was != now {
			moved++
		}
	}
	if d := math.Abs(float64(moved) - n*0.1); d > tolerance(n, 0.1) {
		t.Errorf("%d of %d sessions moved, want about %d (the 10%% b gained)", moved, n, n/10)
	}
}

// TestNestedIndependent checks that a split inside another split's child
// divides that child's sessions again instead of sending them all one way.
func TestNestedIndependent(t *testing.T) {
	const n = 10000
	inner := splitOf(keywayv1.Split_BY_CONNECTION, 1, fwd("a"), 1, fwd("b"))
	root, _ := build(t, splitOf(keywayv1.Split_BY_CONNECTION, 1, inner, 1, fwd("c")))
	counts := map[string]int{}
	for i := range n {
		counts[childOf(t, root, on(session(i), "GET k"))]++
	}
	for name, p := range map[string]float64{"a": 0.25, "b": 0.25, "c": 0.5} {
		if d := math.Abs(float64(counts[name]) - n*p); d > tolerance(n, p) {
			t.Errorf("%s got %d of %d, want %.0f ± %.0f", name, counts[name], n, n*p, tolerance(n, p))
		}
	}
}

func TestPipeline(t *testing.T) {
	root, pools := build(t, splitOf(keywayv1.Split_BY_KEY, 1, fwd("a"), 1, fwd("b")))
	// Find keys on each side first, so the pipeline is known to span both.
	var keys [2][]string
	for i := 0; len(keys[0]) < 3 || len(keys[1]) < 3; i++ {
		k := fmt.Sprintf("k%d", i)
		side := 0
		if childOf(t, root, on(session(1), "GET "+k)) == "b" {
			side = 1
		}
		keys[side] = append(keys[side], k)
	}
	pools.Get("a").Reset()
	pools.Get("b").Reset()
	pools.Get("a").Reply = "+a\r\n"
	pools.Get("b").Reply = "+b\r\n"
	batch := enginetest.Lines("SET "+keys[0][0]+" 1", "GET "+keys[1][0], "GET "+keys[0][1], "INCR "+keys[1][1], "GET "+keys[0][2])
	root.Serve(context.Background(), batch)
	want := map[string][][]string{
		"a": {{"SET " + keys[0][0] + " 1", "GET " + keys[0][1], "GET " + keys[0][2]}},
		"b": {{"GET " + keys[1][0], "INCR " + keys[1][1]}},
	}
	for name, w := range want {
		if got := pools.Get(name).Batches(); !reflect.DeepEqual(got, w) {
			t.Errorf("%s saw %q, want %q", name, got, w)
		}
	}
	if got, want := enginetest.Replies(batch), []string{"+a\r\n", "+b\r\n", "+a\r\n", "+b\r\n", "+a\r\n"}; !reflect.DeepEqual(got, want) {
		t.Errorf("replies %q, want %q", got, want)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  *keywayv1.Engine
		want string
	}{
		{"no children", splitOf(keywayv1.Split_BY_KEY), "at least one"},
		{"zero weight", splitOf(keywayv1.Split_BY_KEY, 1, fwd("a"), 0, fwd("b")), "children[1]: weight must be > 0"},
		{"below resolution", splitOf(keywayv1.Split_BY_KEY, 1, fwd("a"), 100000, fwd("b")), "children[0]: weight 1 of 100001 is below the split's resolution"},
		{"child error", splitOf(keywayv1.Split_BY_KEY, 1, fwd("nosuch")), "root.split.children[0].upstream: unknown upstream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pools := enginetest.NewUpstreams()
			b := engine.NewBuilder(registry(), pools, "test", ups("a", "b"), nil)
			_, err := b.Build(tt.cfg)
			b.Release()()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Build error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	tests := []struct {
		name string
		by   keywayv1.Split_By
		line string
		want string
	}{
		{"by key", keywayv1.Split_BY_KEY, "GET user:1", `key "user:1" is in bucket `},
		{"keyless by key", keywayv1.Split_BY_KEY, "PING", "connection (no key) is in bucket "},
		{"by connection", keywayv1.Split_BY_CONNECTION, "GET user:1", "connection is in bucket "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, _ := build(t, splitOf(tt.by, 3, fwd("a"), 1, fwd("b")))
			r := enginetest.Line(tt.line)
			x := engine.Explain(root, r)
			if len(x.Steps) < 2 || !strings.HasPrefix(x.Steps[0].Note, tt.want) {
				t.Fatalf("steps %+v, want first note starting %q", x.Steps, tt.want)
			}
			// Explain must agree with where Serve sends it.
			if got := childOf(t, root, enginetest.Line(tt.line)); got != x.Upstream {
				t.Errorf("explain says %s, serve went to %s", x.Upstream, got)
			}
		})
	}
}
