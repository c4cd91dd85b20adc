package policy

import (
	"fmt"
	"strings"

	"keyway.dev/cli/internal/output"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// DomainJSON is what one workload domain runs, pins and rollouts
// included; `policy history` and `keyway fleet` print it. Field names are
// part of the CLI's contract.
type DomainJSON struct {
	Domain string `json:"domain"`
	// Version is the version of the domain's stable tree, and Name the
	// same as "v3".
	Version uint64 `json:"version"`
	Name    string `json:"name"`
	// Pinned is true when a completed rollout put the domain on a version
	// other than the fleet's active one.
	Pinned bool `json:"pinned"`
	// Rollout is the rollout that pinned it or the one in progress.
	Rollout string `json:"rollout"`
	// CanaryVersion and CanaryPercent describe a rollout in progress; 0
	// when none runs.
	CanaryVersion uint64 `json:"canary_version"`
	CanaryPercent uint32 `json:"canary_percent"`
}

// DomainsJSON converts the API's domain versions.
func DomainsJSON(ds []*keywayv1.DomainVersion) []DomainJSON {
	out := make([]DomainJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, DomainJSON{
			Domain: d.GetDomain(), Version: d.GetVersion(), Name: Name(d.GetVersion()), Pinned: d.GetPinned(),
			Rollout: d.GetRolloutId(), CanaryVersion: d.GetCanaryVersion(), CanaryPercent: d.GetCanaryPercent(),
		})
	}
	return out
}

// DomainState words a domain's version for tables: "v3", "v3 (pinned by
// web-2)", "v1 → v3 at 10% (web-2)".
func DomainState(d *keywayv1.DomainVersion) string {
	s := Name(d.GetVersion())
	if d.GetCanaryVersion() != 0 {
		return fmt.Sprintf("%s → %s at %d%% (%s)", s, Name(d.GetCanaryVersion()), d.GetCanaryPercent(), output.Dash(d.GetRolloutId()))
	}
	if d.GetPinned() {
		return s + " (pinned by " + output.Dash(d.GetRolloutId()) + ")"
	}
	return s
}

// activeCell is the ACTIVE column of `policy history` for version v:
// "*" when it is the active version and every domain runs it; with pins,
// the domains that run it ("* api" for the active version, "web" for a
// pinned one) and those canarying it ("web 10%").
func activeCell(v *keywayv1.PolicyVersionInfo, active uint64, ds []*keywayv1.DomainVersion) string {
	isActive := v.GetActive() || v.GetVersion() == active
	if len(ds) == 0 {
		if isActive {
			return "*"
		}
		return ""
	}
	var runs, canary []string
	for _, d := range ds {
		if d.GetVersion() == v.GetVersion() {
			runs = append(runs, d.GetDomain())
		}
		if d.GetCanaryVersion() == v.GetVersion() {
			canary = append(canary, fmt.Sprintf("%s %d%%", d.GetDomain(), d.GetCanaryPercent()))
		}
	}
	var parts []string
	switch {
	case isActive && len(runs) == len(ds):
		parts = append(parts, "*")
	case isActive:
		parts = append(parts, "*")
		if len(runs) > 0 {
			parts = append(parts, strings.Join(runs, ","))
		} else {
			parts = append(parts, "(no domain)")
		}
	case len(runs) > 0:
		parts = append(parts, strings.Join(runs, ","))
	}
	if len(canary) > 0 {
		parts = append(parts, "canary "+strings.Join(canary, ","))
	}
	return strings.Join(parts, " ")
}
