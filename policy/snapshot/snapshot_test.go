package snapshot

import (
	"testing"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

func leaf(name string) *keywayv1.Engine {
	return &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: name}}}
}

func TestDomainsCarryOnlyTheUpstreamsTheyUse(t *testing.T) {
	p := &keywayv1.Policy{
		Upstreams: []*keywayv1.Upstream{{Name: "a"}, {Name: "b"}, {Name: "c"}},
		Domains: []*keywayv1.DomainPolicy{
			{Name: "z", Root: leaf("c")},
			{Name: "default", Root: &keywayv1.Engine{Kind: &keywayv1.Engine_Route{Route: &keywayv1.Route{
				Routes:  []*keywayv1.PrefixRoute{{Prefix: "s:", Engine: leaf("b")}},
				Default: &keywayv1.Engine{Kind: &keywayv1.Engine_Reject{Reject: &keywayv1.Reject{Next: leaf("a")}}},
			}}}},
		},
	}
	ds := Domains("v7", p)
	if len(ds) != 2 || ds[0].GetName() != "default" || ds[1].GetName() != "z" {
		t.Fatalf("domains = %v, want default then z", ds)
	}
	var names []string
	for _, u := range ds[0].GetStable().GetUpstreams() {
		names = append(names, u.GetName())
	}
	if len(names) != 2 || names[0] != "a" || names[1] != "b" {
		t.Fatalf("default's upstreams = %v, want [a b]", names)
	}
	if got := ds[1].GetStable().GetUpstreams(); len(got) != 1 || got[0].GetName() != "c" {
		t.Fatalf("z's upstreams = %v, want [c]", got)
	}
	if ds[0].GetStable().GetVersion() != "v7" {
		t.Fatalf("version = %q", ds[0].GetStable().GetVersion())
	}
	if Tree("v7", p, "missing") != nil {
		t.Fatal("Tree of an unknown domain is not nil")
	}
}

func TestProxyDefaultsTheDefaultDomain(t *testing.T) {
	if got := Proxy("v1", &keywayv1.Policy{}).GetIdentity().GetDefaultDomain(); got != DefaultDomain {
		t.Fatalf("default domain = %q, want %q", got, DefaultDomain)
	}
	p := &keywayv1.Policy{Identity: &keywayv1.Identity{DefaultDomain: "web"}}
	if got := Proxy("v1", p).GetIdentity().GetDefaultDomain(); got != "web" {
		t.Fatalf("default domain = %q, want web", got)
	}
}

// The allowance is per tree, so a canary from another version carries
// its own and the proxy reads it from the tree a connection runs on.
func TestTreeCarriesAllowedAdminCommands(t *testing.T) {
	p := &keywayv1.Policy{
		Upstreams: []*keywayv1.Upstream{{Name: "a"}},
		Domains: []*keywayv1.DomainPolicy{
			{Name: "ops", Root: leaf("a"), AllowAdminCommands: []string{"SHUTDOWN", "CLUSTER|FAILOVER"}},
			{Name: "default", Root: leaf("a")},
		},
	}
	if got := Tree("v1", p, "ops").GetAllowAdminCommands(); len(got) != 2 || got[0] != "SHUTDOWN" || got[1] != "CLUSTER|FAILOVER" {
		t.Errorf("ops allows %v", got)
	}
	if got := Tree("v1", p, "default").GetAllowAdminCommands(); len(got) != 0 {
		t.Errorf("default allows %v", got)
	}
}
