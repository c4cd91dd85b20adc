package xds

import (
	"context"

	"keyway.dev/policy/snapshot"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Pin holds one domain's stable tree on a policy version other than the
// active one; a completed rollout pins its domain to its target, because
// the active version is fleet-wide and other domains must not move.
type Pin struct {
	Domain  string
	Version *keywayv1.PolicyVersion
	// Base is the active version the pin was made against. The pin holds
	// only while that version is still active: activating a version is a
	// fleet-wide statement, so it releases every pin without a second
	// write that could be lost.
	Base uint64
}

// SetPins publishes the domains pinned to other versions.
func (p *Publisher) SetPins(ctx context.Context, pins []Pin) error {
	return p.update(ctx, func() { p.pins = pins })
}

// applyPins replaces the stable tree of every pinned domain that the
// active version still has with the pinned version's tree. A pin whose
// version lacks the domain is ignored rather than failing the snapshot.
func applyPins(domains []*keywayv1.Domain, active uint64, pins []Pin) {
	for _, pin := range pins {
		if pin.Base != active || pin.Version == nil {
			continue
		}
		for _, d := range domains {
			if d.GetName() != pin.Domain {
				continue
			}
			if t := snapshot.Tree(snapshot.VersionName(pin.Version.GetVersion()), pin.Version.GetRendered(), pin.Domain); t != nil {
				d.Stable = t
			}
		}
	}
}
