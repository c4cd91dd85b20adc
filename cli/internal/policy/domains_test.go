package policy

import (
	"testing"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

func TestActiveCell(t *testing.T) {
	pinned := []*keywayv1.DomainVersion{
		{Domain: "api", Version: 1},
		{Domain: "web", Version: 3, Pinned: true, RolloutId: "web-1"},
	}
	canary := []*keywayv1.DomainVersion{
		{Domain: "api", Version: 1},
		{Domain: "web", Version: 1, RolloutId: "web-2", CanaryVersion: 2, CanaryPercent: 10},
	}
	for _, tc := range []struct {
		name    string
		version uint64
		domains []*keywayv1.DomainVersion
		want    string
	}{
		{"active, no domain list", 1, nil, "*"},
		{"inactive, no domain list", 2, nil, ""},
		{"active, every domain", 1, []*keywayv1.DomainVersion{{Domain: "api", Version: 1}}, "*"},
		{"active, one pinned away", 1, pinned, "* api"},
		{"pinned version", 3, pinned, "web"},
		{"unused version", 2, pinned, ""},
		{"canary target", 2, canary, "canary web 10%"},
		{"active during a rollout", 1, canary, "*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := activeCell(&keywayv1.PolicyVersionInfo{Version: tc.version}, 1, tc.domains)
			if got != tc.want {
				t.Fatalf("activeCell(v%d) = %q, want %q", tc.version, got, tc.want)
			}
		})
	}
}

func TestDomainState(t *testing.T) {
	for _, tc := range []struct {
		d    *keywayv1.DomainVersion
		want string
	}{
		{&keywayv1.DomainVersion{Domain: "a", Version: 1}, "v1"},
		{&keywayv1.DomainVersion{Domain: "a", Version: 3, Pinned: true, RolloutId: "a-1"}, "v3 (pinned by a-1)"},
		{&keywayv1.DomainVersion{Domain: "a", Version: 1, RolloutId: "a-2", CanaryVersion: 2, CanaryPercent: 50}, "v1 → v2 at 50% (a-2)"},
	} {
		if got := DomainState(tc.d); got != tc.want {
			t.Errorf("DomainState(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
