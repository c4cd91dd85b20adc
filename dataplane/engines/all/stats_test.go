package all

import (
	"context"
	"fmt"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func up(name string) *keywayv1.Engine {
	return &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: name}}}
}

// statsTree is route{"m:": mirror(a → b)} with default guard → ratelimit
// → failover(a, b): every engine that reports stats, nested under others.
func statsTree() *keywayv1.Engine {
	mirror := &keywayv1.Engine{Label: "warm", Source: "main.star:3:9", Kind: &keywayv1.Engine_Mirror{Mirror: &keywayv1.Mirror{
		Primary: up("a"), Shadow: up("b"), Sample: 1, Queue: 16,
	}}}
	failover := &keywayv1.Engine{Kind: &keywayv1.Engine_Failover{Failover: &keywayv1.Failover{Children: []*keywayv1.Engine{up("a"), up("b")}}}}
	// One token, refilled far slower than the test runs.
	limit := &keywayv1.Engine{Label: "slow", Kind: &keywayv1.Engine_Ratelimit{Ratelimit: &keywayv1.RateLimit{
		OpsPerSecond: 0.001, BurstSeconds: 1000, Next: failover,
	}}}
	guard := &keywayv1.Engine{Label: "owned", Kind: &keywayv1.Engine_Guard{Guard: &keywayv1.Guard{
		KeyPrefixes: []string{"x:", "m:"}, MaxValueBytes: 5, Next: limit,
	}}}
	return &keywayv1.Engine{Kind: &keywayv1.Engine_Route{Route: &keywayv1.Route{
		Routes:  []*keywayv1.PrefixRoute{{Prefix: "m:", Engine: mirror}},
		Default: guard,
	}}}
}

// TestCollectStatsWalksEveryReporter builds a real tree, serves traffic
// that moves each engine's counters, and checks CollectStats finds every
// counter under its domain, kind and label, however deep the engine is.
func TestCollectStatsWalksEveryReporter(t *testing.T) {
	ups := []*keywayv1.Upstream{
		{Name: "a", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:1"}}},
		{Name: "b", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:2"}}},
	}
	b := engine.NewBuilder(Registry(), enginetest.NewUpstreams(), "web", ups, nil)
	root, err := b.Build(statsTree())
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	tree := engine.NewTree("web", &keywayv1.DomainTree{Version: "v1"}, root, b.Release())
	st := engine.NewState(map[string]*engine.Domain{"web": {Name: "web", Stable: tree}}, nil, "v1")
	defer st.Release()

	sess := &engine.Session{Domain: "web"}
	for _, line := range []string{
		"SET m:1 v",       // mirrored
		"GET other",       // guard: key_prefixes
		"SET x:1 toolong", // guard: max_value_bytes
		"GET x:1",         // the limiter's one token
		"GET x:2",         // refused by the limiter
	} {
		r := enginetest.Line(line)
		r.Session = sess
		engine.Do(context.Background(), root, r)
	}
	// The shadow is served by the mirror's own worker; wait for it.
	deadline := time.Now().Add(10 * time.Second)
	for value(engine.CollectStats(st), "mirror", "mirrored") != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the shadow never got its copy: %v", engine.CollectStats(st))
		}
		time.Sleep(10 * time.Millisecond)
	}

	got := map[string]engine.EngineStat{}
	for _, s := range engine.CollectStats(st) {
		got[s.Kind+"/"+s.Name] = s
	}
	tests := []struct {
		key, label, source string
		value              uint64
		gauge              bool
	}{
		{"mirror/mirrored", "warm", "main.star:3:9", 1, false},
		{"mirror/dropped", "warm", "main.star:3:9", 0, false},
		{"mirror/shadow_errors", "warm", "main.star:3:9", 0, false},
		{"mirror/queued", "warm", "main.star:3:9", 0, true},
		{"guard/refused_key_prefixes", "owned", "", 1, false},
		{"guard/refused_max_value_bytes", "owned", "", 1, false},
		{"ratelimit/admitted", "slow", "", 1, false},
		{"ratelimit/refused", "slow", "", 1, false},
		{"ratelimit/delayed", "slow", "", 0, false},
		{"failover/retried", "", "", 0, false},
		{"failover/children[1].breaker_opened", "", "", 0, false},
		{"failover/children[0].breaker_state", "", "", uint64(0), true},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			s, ok := got[tc.key]
			if !ok {
				t.Fatalf("no %s in %v", tc.key, got)
			}
			if s.Domain != "web" || s.Track != "stable" || s.Label != tc.label || s.Source != tc.source {
				t.Errorf("%s is at %s/%s label %q source %q, want web/stable %q %q", tc.key, s.Domain, s.Track, s.Label, s.Source, tc.label, tc.source)
			}
			if s.Value != tc.value || s.Gauge != tc.gauge {
				t.Errorf("%s = %d (gauge %v), want %d (gauge %v)", tc.key, s.Value, s.Gauge, tc.value, tc.gauge)
			}
		})
	}
	for _, absent := range []string{"guard/refused_allow_commands", "guard/refused_max_keys", "mirror/compared"} {
		if _, ok := got[absent]; ok {
			t.Errorf("%s reported for a rule the policy did not set", absent)
		}
	}
}

func value(stats []engine.EngineStat, kind, name string) uint64 {
	for _, s := range stats {
		if s.Kind == kind && s.Name == name {
			return s.Value
		}
	}
	return ^uint64(0)
}

// TestCollectStatsAuditMode checks an audit guard reports what it would
// have refused under audited_ names, and lets the request through.
func TestCollectStatsAuditMode(t *testing.T) {
	cfg := &keywayv1.Engine{Kind: &keywayv1.Engine_Guard{Guard: &keywayv1.Guard{
		DenyCommands: []string{"KEYS"}, Audit: true, Next: up("a"),
	}}}
	pools := enginetest.NewUpstreams()
	ups := []*keywayv1.Upstream{{Name: "a", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:1"}}}}
	b := engine.NewBuilder(Registry(), pools, "web", ups, nil)
	root, err := b.Build(cfg)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	st := engine.NewState(map[string]*engine.Domain{"web": {Name: "web", Stable: engine.NewTree("web", &keywayv1.DomainTree{}, root, b.Release())}}, nil, "v1")
	defer st.Release()
	for i := range 3 {
		r := enginetest.Line(fmt.Sprintf("KEYS k%d*", i))
		engine.Do(context.Background(), root, r)
		if got := enginetest.Reply(r); got != enginetest.OK {
			t.Fatalf("audit mode answered %q, want the upstream's OK", got)
		}
	}
	stats := engine.CollectStats(st)
	if got := value(stats, "guard", "audited_deny_commands"); got != 3 {
		t.Errorf("audited_deny_commands = %d, want 3 (stats %v)", got, stats)
	}
	if got := value(stats, "guard", "refused_deny_commands"); got != ^uint64(0) {
		t.Errorf("an audit guard reported refused_deny_commands = %d", got)
	}
}
