package reload

import (
	"context"
	"strings"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/engines/all"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func up(name string) *keywayv1.Upstream {
	return &keywayv1.Upstream{Name: name, Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:1"}}}
}

// tree is a DomainTree forwarding everything to upstream to, declaring
// the upstreams in declared (to by default).
func tree(version, to string, declared ...string) *keywayv1.DomainTree {
	if len(declared) == 0 {
		declared = []string{to}
	}
	t := &keywayv1.DomainTree{Version: version, Root: &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: to}}}}
	for _, d := range declared {
		t.Upstreams = append(t.Upstreams, up(d))
	}
	return t
}

func domain(name string, stable *keywayv1.DomainTree) *keywayv1.Domain {
	return &keywayv1.Domain{Name: name, Stable: stable}
}

type fixture struct {
	pools *enginetest.Upstreams
	cur   *engine.Current
	env   *engine.Env
	a     *Applier
}

func newFixture() *fixture {
	f := &fixture{pools: enginetest.NewUpstreams(), cur: &engine.Current{}, env: &engine.Env{}}
	f.a = NewApplier(all.Registry(), f.pools, f.env, f.cur, nil)
	return f
}

var proxy = &keywayv1.ProxyConfig{Name: "proxy", Identity: &keywayv1.Identity{DefaultDomain: "a"}}

// reaches serves GET k in domain d of the installed state and returns the
// upstream that answered.
func (f *fixture) reaches(t *testing.T, d string) string {
	t.Helper()
	s := f.cur.Acquire()
	if s == nil {
		t.Fatal("no state installed")
	}
	defer s.Release()
	dom := s.Domains[d]
	if dom == nil {
		t.Fatalf("state %s has no domain %q", s.Version, d)
	}
	r := enginetest.Line("GET k")
	engine.Do(context.Background(), dom.Stable.Root, r)
	return r.Upstream
}

func TestApply(t *testing.T) {
	f := newFixture()
	if err := f.a.Apply([]*keywayv1.Domain{domain("a", tree("v1", "main")), domain("b", tree("v1", "other"))}, proxy, "v1"); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if got := f.reaches(t, "a"); got != "main" {
		t.Errorf("domain a reached %q", got)
	}
	if got := f.reaches(t, "b"); got != "other" {
		t.Errorf("domain b reached %q", got)
	}
	if s := f.cur.Load(); s.Version != "v1" || s.Proxy != proxy {
		t.Errorf("state version %q proxy %v", s.Version, s.Proxy)
	}
}

func TestApplyErrors(t *testing.T) {
	tests := []struct {
		name    string
		domains []*keywayv1.Domain
		want    string
	}{
		{"unknown upstream", []*keywayv1.Domain{domain("a", tree("v1", "main")), domain("b", tree("v2", "nope", "main"))},
			`domain "b" stable tree v2: root.upstream: unknown upstream "nope"`},
		{"bad canary", []*keywayv1.Domain{{Name: "a", Stable: tree("v1", "main"), Canary: tree("v2", "x", "main"), CanaryPercent: 5}},
			`domain "a" canary tree v2: root.upstream: unknown upstream "x"`},
		{"no stable", []*keywayv1.Domain{{Name: "a"}}, `domain "a": no stable tree`},
		{"percent", []*keywayv1.Domain{{Name: "a", Stable: tree("v1", "main"), CanaryPercent: 101}}, "canary_percent 101"},
		{"twice", []*keywayv1.Domain{domain("a", tree("v1", "main")), domain("a", tree("v1", "main"))}, `domain "a": sent twice`},
		{"unnamed", []*keywayv1.Domain{domain("", tree("v1", "main"))}, "domain without a name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture()
			good := []*keywayv1.Domain{domain("a", tree("v0", "old"))}
			if err := f.a.Apply(good, proxy, "v0"); err != nil {
				t.Fatal(err)
			}
			before := f.cur.Load()
			err := f.a.Apply(tt.domains, proxy, "bad")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Apply error = %v, want %q", err, tt.want)
			}
			if f.cur.Load() != before {
				t.Error("a failed Apply replaced the installed state")
			}
			if got := f.reaches(t, "a"); got != "old" {
				t.Errorf("after the failure domain a reaches %q, want the old tree's upstream", got)
			}
			// Only the old tree's reference is held: the failed build
			// released everything it took.
			if held := f.pools.Held(); len(held) != 1 || held[0] != "old" || f.pools.Refs("old") != 1 {
				t.Errorf("held after failure: %v (old refs %d)", held, f.pools.Refs("old"))
			}
		})
	}
}

func TestUnchangedDomainKeepsTree(t *testing.T) {
	f := newFixture()
	if err := f.a.Apply([]*keywayv1.Domain{domain("a", tree("v1", "main")), domain("b", tree("v1", "other"))}, proxy, "v1"); err != nil {
		t.Fatal(err)
	}
	s1 := f.cur.Load()
	ta, tb := s1.Domains["a"].Stable, s1.Domains["b"].Stable
	if err := f.a.Apply([]*keywayv1.Domain{domain("a", tree("v1", "main")), domain("b", tree("v2", "third"))}, proxy, "v2"); err != nil {
		t.Fatal(err)
	}
	s2 := f.cur.Load()
	if s2.Domains["a"].Stable != ta {
		t.Error("unchanged domain a was rebuilt")
	}
	if s2.Domains["b"].Stable == tb {
		t.Error("changed domain b kept its old tree")
	}
	if got := f.pools.Acquired("main"); got != 1 {
		t.Errorf("main acquired %d times, want 1 (no reconnect for an unchanged domain)", got)
	}
	<-s1.Retired()
	if f.pools.Refs("other") != 0 || f.pools.Refs("main") != 1 || f.pools.Refs("third") != 1 {
		t.Errorf("refs: other %d main %d third %d, want 0 1 1", f.pools.Refs("other"), f.pools.Refs("main"), f.pools.Refs("third"))
	}
}

func TestCanaryPromotionReusesTree(t *testing.T) {
	f := newFixture()
	d := &keywayv1.Domain{Name: "a", Stable: tree("v1", "main"), Canary: tree("v2", "next"), CanaryPercent: 10, RolloutId: "r1"}
	if err := f.a.Apply([]*keywayv1.Domain{d}, proxy, "v1+v2"); err != nil {
		t.Fatal(err)
	}
	canary := f.cur.Load().Domains["a"].Canary
	if canary == nil || f.cur.Load().Domains["a"].CanaryPercent != 10 {
		t.Fatal("canary not installed")
	}
	if err := f.a.Apply([]*keywayv1.Domain{domain("a", tree("v2", "next"))}, proxy, "v2"); err != nil {
		t.Fatal(err)
	}
	if got := f.cur.Load().Domains["a"].Stable; got != canary {
		t.Error("promoting the canary rebuilt its tree")
	}
	if f.pools.Refs("main") != 0 || f.pools.Acquired("next") != 1 {
		t.Errorf("main refs %d, next acquired %d; want 0 and 1", f.pools.Refs("main"), f.pools.Acquired("next"))
	}
}

func TestStateInUseOutlivesInstall(t *testing.T) {
	f := newFixture()
	if err := f.a.Apply([]*keywayv1.Domain{domain("a", tree("v1", "old"))}, proxy, "v1"); err != nil {
		t.Fatal(err)
	}
	batch := f.cur.Acquire() // a batch in flight on v1
	if err := f.a.Apply([]*keywayv1.Domain{domain("a", tree("v2", "new"))}, proxy, "v2"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-batch.Retired():
		t.Fatal("state retired while a batch still uses it")
	default:
	}
	if f.pools.Refs("old") != 1 {
		t.Errorf("old upstream released while a batch uses it")
	}
	r := enginetest.Line("GET k")
	engine.Do(context.Background(), batch.Domains["a"].Stable.Root, r)
	if r.Upstream != "old" {
		t.Errorf("in-flight batch reached %q, want its own version's upstream", r.Upstream)
	}
	batch.Release()
	<-batch.Retired()
	if f.pools.Refs("old") != 0 || f.pools.Refs("new") != 1 {
		t.Errorf("after the batch: old refs %d new refs %d, want 0 and 1", f.pools.Refs("old"), f.pools.Refs("new"))
	}
}

func TestRetireReleasesEverything(t *testing.T) {
	f := newFixture()
	d := &keywayv1.Domain{Name: "a", Stable: tree("v1", "main"), Canary: tree("v2", "next"), CanaryPercent: 50}
	if err := f.a.Apply([]*keywayv1.Domain{d, domain("b", tree("v1", "main"))}, proxy, "v1"); err != nil {
		t.Fatal(err)
	}
	old := f.cur.Load()
	if err := f.a.Apply([]*keywayv1.Domain{domain("a", tree("v3", "third"))}, proxy, "v3"); err != nil {
		t.Fatal(err)
	}
	<-old.Retired()
	if held := f.pools.Held(); len(held) != 1 || held[0] != "third" {
		t.Errorf("references held after the old state retired: %v, want [third]", held)
	}
	if d := f.pools.DoubleReleases(); len(d) != 0 {
		t.Errorf("released twice: %v", d)
	}
}

// TestApplyRefusesUnservableIdentity covers a version whose identity
// rules send connections to a domain it has no tree for: refused whole,
// the installed State and its references untouched.
func TestApplyRefusesUnservableIdentity(t *testing.T) {
	f := newFixture()
	if err := f.a.Apply([]*keywayv1.Domain{domain("a", tree("v1", "main"))}, proxy, "v1"); err != nil {
		t.Fatal(err)
	}
	installed := f.cur.Load()
	withID := func(id *keywayv1.Identity, ls ...*keywayv1.Listener) *keywayv1.ProxyConfig {
		return &keywayv1.ProxyConfig{Name: "proxy", Identity: id, Listeners: ls}
	}
	tests := []struct {
		name  string
		proxy *keywayv1.ProxyConfig
		want  string
	}{
		{"default", withID(&keywayv1.Identity{DefaultDomain: "web"}), `default_domain sends connections to domain "web"`},
		{"no default", withID(&keywayv1.Identity{}), `default_domain sends connections to domain ""`},
		{"user", withID(&keywayv1.Identity{DefaultDomain: "a", Users: []*keywayv1.User{{Name: "u", Domain: "web"}}}), `user "u"`},
		{"client name", withID(&keywayv1.Identity{DefaultDomain: "a", ClientNames: []*keywayv1.NameRule{{Match: "w", Domain: "web"}}}), `client name "w"`},
		{"certificate", withID(&keywayv1.Identity{DefaultDomain: "a", Certificates: []*keywayv1.NameRule{{Match: "cn", Domain: "web"}}}), `certificate "cn"`},
		{"listener", withID(&keywayv1.Identity{DefaultDomain: "a"}, &keywayv1.Listener{Name: "l", Domain: "web"}), `listener "l"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.a.Apply([]*keywayv1.Domain{domain("a", tree("v2", "other"))}, tt.proxy, "v2")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if f.cur.Load() != installed {
				t.Error("a refused version replaced the state")
			}
			if held := f.pools.Held(); len(held) != 1 || held[0] != "main" {
				t.Errorf("references held after the refusal: %v, want [main]", held)
			}
		})
	}
}

func TestApplyFlags(t *testing.T) {
	f := newFixture()
	f.a.ApplyFlags([]*keywayv1.Flag{{Name: "a/new-cache", Domain: "a", Flag: "new-cache", Percent: 30}})
	if got := f.env.FlagPercent("a", "new-cache"); got != 30 {
		t.Errorf("flag percent = %d, want 30", got)
	}
}
