package xds

import (
	"testing"

	cachetypes "github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"keyway.dev/policy/snapshot"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func flag(name string, pct uint32) cachetypes.ResourceWithName {
	return &keywayv1.Flag{Name: name, Percent: pct}
}

func TestSnapshotVersions(t *testing.T) {
	base := []cachetypes.ResourceWithName{flag("a/x", 10), flag("b/y", 0)}
	tests := []struct {
		name  string
		rs    []cachetypes.ResourceWithName
		equal bool
	}{
		{name: "same content", rs: []cachetypes.ResourceWithName{flag("a/x", 10), flag("b/y", 0)}, equal: true},
		{name: "other order", rs: []cachetypes.ResourceWithName{flag("b/y", 0), flag("a/x", 10)}, equal: true},
		{name: "changed value", rs: []cachetypes.ResourceWithName{flag("a/x", 11), flag("b/y", 0)}},
		{name: "renamed", rs: []cachetypes.ResourceWithName{flag("a/z", 10), flag("b/y", 0)}},
		{name: "fewer", rs: []cachetypes.ResourceWithName{flag("a/x", 10)}},
	}
	want, err := NewSnapshot(map[string]Typed{snapshot.FlagType: {Prefix: "f", Resources: base}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewSnapshot(map[string]Typed{snapshot.FlagType: {Prefix: "f", Resources: tt.rs}})
			if err != nil {
				t.Fatal(err)
			}
			if eq := got.GetVersion(snapshot.FlagType) == want.GetVersion(snapshot.FlagType); eq != tt.equal {
				t.Fatalf("versions %s and %s: equal=%v, want %v", got.GetVersion(snapshot.FlagType), want.GetVersion(snapshot.FlagType), eq, tt.equal)
			}
		})
	}
	if _, err := NewSnapshot(map[string]Typed{snapshot.FlagType: {Prefix: "f", Resources: []cachetypes.ResourceWithName{flag("a", 1), flag("a", 2)}}}); err == nil {
		t.Fatal("duplicate names accepted")
	}
	if err := want.ConstructVersionMap(); err != nil || len(want.GetVersionMap(snapshot.FlagType)) != 2 {
		t.Fatalf("version map %v, %v", want.GetVersionMap(snapshot.FlagType), err)
	}
}

func BenchmarkAssemble(b *testing.B) {
	v := &keywayv1.PolicyVersion{Version: 3, Rendered: &keywayv1.Policy{Domains: []*keywayv1.DomainPolicy{{Name: "a"}, {Name: "b"}}}}
	for b.Loop() {
		if _, err := assemble(v, nil, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}
