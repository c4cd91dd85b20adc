package snapshot

import (
	"slices"
	"testing"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

func labeled(name string) *keywayv1.Engine {
	return &keywayv1.Engine{Label: name, Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: name}}}
}

// TestWalkOrder pins the walker's order (declaration order, depth first)
// and that it finds engines inside nested messages (PrefixRoute) and
// lists (Failover), since errors about a tree are reported in it.
func TestWalkOrder(t *testing.T) {
	tree := &keywayv1.Engine{Label: "route", Kind: &keywayv1.Engine_Route{Route: &keywayv1.Route{
		Routes: []*keywayv1.PrefixRoute{
			{Prefix: "a:", Engine: labeled("a")},
			{Prefix: "b:", Engine: &keywayv1.Engine{Label: "failover", Kind: &keywayv1.Engine_Failover{Failover: &keywayv1.Failover{
				Children: []*keywayv1.Engine{labeled("b1"), labeled("b2")},
			}}}},
		},
		Default: labeled("default"),
	}}}
	var all []string
	WalkAll(tree, func(e *keywayv1.Engine) { all = append(all, e.GetLabel()) })
	if want := []string{"route", "a", "failover", "b1", "b2", "default"}; !slices.Equal(all, want) {
		t.Fatalf("WalkAll order = %v; want %v", all, want)
	}
	var direct []string
	Walk(tree, func(e *keywayv1.Engine) { direct = append(direct, e.GetLabel()) })
	if want := []string{"a", "failover", "default"}; !slices.Equal(direct, want) {
		t.Fatalf("Walk = %v; want the direct children %v", direct, want)
	}
	Walk(nil, func(*keywayv1.Engine) { t.Fatal("Walk(nil) visited something") })
	Walk(&keywayv1.Engine{}, func(*keywayv1.Engine) { t.Fatal("Walk of an engine without a kind visited something") })
}
