package reload

import (
	"slices"
	"testing"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Versions as the control plane derives them: a ProxyConfig's 8 hex
// digits of content, Domains' 8 of their own followed by their
// ProxyConfig's.
const (
	p1 = "11111111"
	p2 = "22222222"
)

// TestSnapshotPairsByContent: Domains whose version names the
// ProxyConfig in force apply on their own, under a new policy version;
// Domains naming another ProxyConfig wait for it, and the held
// ProxyConfig of another policy version pairs with them by content.
func TestSnapshotPairsByContent(t *testing.T) {
	dir := t.TempDir()
	f := newFixture()
	s := NewSnapshot(f.a, dir)
	if got := s.ClientFeatures(); !slices.Contains(got, ProxyConfigByContent) {
		t.Fatalf("client features %v lack %s", got, ProxyConfigByContent)
	}
	held(t, s.OnResources(ProxyConfigType, "v1-"+p1, anys(t, proxy)))
	if err := s.OnResources(DomainType, "v1-aaaaaaaa"+p1, anys(t, domain("a", tree("v1", "main")))); err != nil {
		t.Fatal(err)
	}

	// v2 changed only the Domains: the control plane sends them alone.
	if err := s.OnResources(DomainType, "v2-bbbbbbbb"+p1, anys(t, domain("a", tree("v2", "other")))); err != nil {
		t.Fatalf("v2 domains with the ProxyConfig in force: %v", err)
	}
	if got := f.reaches(t, "a"); got != "other" {
		t.Errorf("domain a reaches %q after v2, want other", got)
	}
	if v := s.Versions(); v[DomainType] != "v2-bbbbbbbb"+p1 || v[ProxyConfigType] != "v1-"+p1 {
		t.Errorf("versions %v, want v2's Domains and the v1 ProxyConfig they name", v)
	}

	// v3's Domains name another ProxyConfig: held until it comes, though
	// a ProxyConfig is in force.
	installed := f.cur.Load()
	held(t, s.OnResources(DomainType, "v3-cccccccc"+p2, anys(t, domain("a", tree("v3", "main")))))
	if f.cur.Load() != installed {
		t.Fatal("Domains naming another ProxyConfig were applied with the one in force")
	}
	web := &keywayv1.ProxyConfig{Name: "proxy", Identity: &keywayv1.Identity{DefaultDomain: "a"}, Version: "v3"}
	if err := s.OnResources(ProxyConfigType, "v3-"+p2, anys(t, web)); err != nil {
		t.Fatal(err)
	}
	if got := s.Settled()[DomainType]; got.Version != "v3-cccccccc"+p2 || got.Err != nil {
		t.Errorf("held domains settled as %+v, want accepted", got)
	}

	// A restarted proxy loads the pair it saved, though their policy
	// versions differ.
	if err := s.OnResources(DomainType, "v4-dddddddd"+p2, anys(t, domain("a", tree("v4", "other")))); err != nil {
		t.Fatal(err)
	}
	g := newFixture()
	s2 := NewSnapshot(g.a, dir)
	if ok, err := s2.Load(); err != nil || !ok {
		t.Fatalf("Load = %v, %v", ok, err)
	}
	if v := s2.Versions(); v[DomainType] != "v4-dddddddd"+p2 || v[ProxyConfigType] != "v3-"+p2 {
		t.Errorf("restored versions %v", v)
	}
}

// TestPairs holds the pairing rule to both kinds of Domain version.
func TestPairs(t *testing.T) {
	for _, tt := range []struct {
		domains, proxy string
		want           bool
	}{
		{"v2-bbbbbbbb" + p1, "v1-" + p1, true},
		{"v2-bbbbbbbb" + p1, "v2-" + p2, false},
		{"v2-bbbbbbbb", "v2-" + p1, true},     // from before content pairing
		{"v2-bbbbbbbb", "v1-bbbbbbbb", false}, // ... pairs by policy version
		{"v2", "v2", true},
		{"v2-bbbbbbbbXXXXXXXX", "v2-XXXXXXXX", true}, // not hex: by policy version
	} {
		if got := pairs(DomainType, tt.domains, tt.proxy); got != tt.want {
			t.Errorf("pairs(%s, %s) = %v, want %v", tt.domains, tt.proxy, got, tt.want)
		}
		if got := pairs(ProxyConfigType, tt.proxy, tt.domains); got != tt.want {
			t.Errorf("pairs from the ProxyConfig's side (%s, %s) = %v, want %v", tt.proxy, tt.domains, got, tt.want)
		}
	}
}

// TestSupersededPartnerIsReleased: Domains held for a ProxyConfig that
// never comes, because the next ProxyConfig arrived first, are released
// (the control plane sends their type nothing newer until they are
// answered), and the Domains that come next pair with it.
func TestSupersededPartnerIsReleased(t *testing.T) {
	f := newFixture()
	s := NewSnapshot(f.a, t.TempDir())
	held(t, s.OnResources(ProxyConfigType, "v1-"+p1, anys(t, proxy)))
	if err := s.OnResources(DomainType, "v1-aaaaaaaa"+p1, anys(t, domain("a", tree("v1", "main")))); err != nil {
		t.Fatal(err)
	}
	s.Settled() // the v1 ProxyConfig, settled by its Domains
	const p3 = "33333333"
	held(t, s.OnResources(DomainType, "v2-bbbbbbbb"+p2, anys(t, domain("a", tree("v2", "other")))))
	if got := s.Settled(); len(got) != 0 {
		t.Fatalf("settled %v while v2's Domains wait for their ProxyConfig", got)
	}
	web := &keywayv1.ProxyConfig{Name: "proxy", Identity: &keywayv1.Identity{DefaultDomain: "a"}, Version: "v3"}
	held(t, s.OnResources(ProxyConfigType, "v3-"+p3, anys(t, web)))
	got := s.Settled()[DomainType]
	if got.Version != "v2-bbbbbbbb"+p2 || !got.Superseded {
		t.Fatalf("v2's Domains settled as %+v, want released as superseded", got)
	}
	if f.reaches(t, "a") != "main" {
		t.Fatal("something of v2 or v3 was applied before both halves of one version were there")
	}
	if err := s.OnResources(DomainType, "v3-cccccccc"+p3, anys(t, domain("a", tree("v3", "other")))); err != nil {
		t.Fatalf("v3's Domains with the held v3 ProxyConfig: %v", err)
	}
	if got := s.Settled()[ProxyConfigType]; got.Version != "v3-"+p3 || got.Err != nil || got.Superseded {
		t.Errorf("held ProxyConfig settled as %+v, want accepted", got)
	}
	if v := s.Versions(); v[DomainType] != "v3-cccccccc"+p3 || v[ProxyConfigType] != "v3-"+p3 {
		t.Errorf("versions %v, want v3's pair", v)
	}
	if got := f.reaches(t, "a"); got != "other" {
		t.Errorf("domain a reaches %q after v3, want other", got)
	}
}
