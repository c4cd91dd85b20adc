package main

import (
	"slices"
	"strings"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/telemetry"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// TestDomainVersions: a pinned domain reports its tree's version, a domain
// in a rollout reports both tracks, and a tree without a version (a
// policy file) reports the snapshot's.
func TestDomainVersions(t *testing.T) {
	tree := func(v string) *keywayv1.DomainTree { return &keywayv1.DomainTree{Version: v} }
	s := engine.NewState(map[string]*engine.Domain{
		"pinned": {Name: "pinned", Config: &keywayv1.Domain{Name: "pinned", Stable: tree("v3")}},
		"rolling": {
			Name:   "rolling",
			Canary: &engine.Tree{},
			Config: &keywayv1.Domain{Name: "rolling", Stable: tree("v1"), Canary: tree("v4"), CanaryPercent: 10},
		},
		"file": {Name: "file", Config: &keywayv1.Domain{Name: "file", Stable: tree("")}},
	}, nil, "v1-0123abcd")
	got := domainVersions(s, "v1")
	slices.SortFunc(got, func(a, b telemetry.DomainVersion) int {
		return strings.Compare(a.Domain+"/"+a.Track, b.Domain+"/"+b.Track)
	})
	want := []telemetry.DomainVersion{
		{Domain: "file", Track: "stable", Version: "v1"},
		{Domain: "pinned", Track: "stable", Version: "v3"},
		{Domain: "rolling", Track: "canary", Version: "v4"},
		{Domain: "rolling", Track: "stable", Version: "v1"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("domainVersions = %+v, want %+v", got, want)
	}
}
