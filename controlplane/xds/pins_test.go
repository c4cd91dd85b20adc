package xds

import (
	"testing"

	"keyway.dev/policy/snapshot"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func TestAssembleHonoursPins(t *testing.T) {
	v := func(n uint64) *keywayv1.PolicyVersion {
		return &keywayv1.PolicyVersion{Version: n, Rendered: &keywayv1.Policy{Domains: []*keywayv1.DomainPolicy{{Name: "a"}, {Name: "b"}}}}
	}
	cases := []struct {
		name     string
		pins     []Pin
		rollouts []Rollout
		// stable and canary tree versions of a and b
		want map[string][2]string
	}{
		{"no pins", nil, nil, map[string][2]string{"a": {"v1", ""}, "b": {"v1", ""}}},
		{"pin against the active version", []Pin{{Domain: "a", Version: v(3), Base: 1}}, nil,
			map[string][2]string{"a": {"v3", ""}, "b": {"v1", ""}}},
		{"pin against another version is released", []Pin{{Domain: "a", Version: v(3), Base: 2}}, nil,
			map[string][2]string{"a": {"v1", ""}, "b": {"v1", ""}}},
		{"rollout over a pin keeps the pin as stable", []Pin{{Domain: "a", Version: v(3), Base: 1}},
			[]Rollout{{ID: "a-2", Domain: "a", Canary: v(4), Percent: 10}},
			map[string][2]string{"a": {"v3", "v4"}, "b": {"v1", ""}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			snap, err := assemble(v(1), c.pins, nil, c.rollouts)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][2]string{}
			for _, r := range snap.GetResources(snapshot.DomainType) {
				d := r.(*keywayv1.Domain)
				got[d.GetName()] = [2]string{d.GetStable().GetVersion(), d.GetCanary().GetVersion()}
			}
			for name, w := range c.want {
				if got[name] != w {
					t.Errorf("domain %s: stable/canary %v, want %v", name, got[name], w)
				}
			}
		})
	}
}
