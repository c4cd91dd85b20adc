package xds

import (
	"errors"
	"fmt"

	cachetypes "github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"

	"keyway.dev/policy/snapshot"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Rollout is a domain moving to another policy version: a share of its
// connections runs the canary version's tree.
type Rollout struct {
	ID      string
	Domain  string
	Canary  *keywayv1.PolicyVersion
	Percent uint32
}

// assemble is the one place the fleet's snapshot is put together from the
// active policy version, the domains pinned to other versions, the flags
// and the running rollouts.
func assemble(active *keywayv1.PolicyVersion, pins []Pin, flags []*keywayv1.Flag, rollouts []Rollout) (*Snapshot, error) {
	if active == nil {
		return nil, errors.New("assemble: no active policy version")
	}
	name := snapshot.VersionName(active.GetVersion())
	domains := snapshot.Domains(name, active.GetRendered())
	applyPins(domains, active.GetVersion(), pins)
	for _, r := range rollouts {
		if err := applyRollout(domains, r); err != nil {
			return nil, err
		}
	}
	proxy := snapshot.Proxy(name, active.GetRendered())
	byType := map[string]Typed{
		snapshot.DomainType: {Prefix: name, Resources: resources(domains), Carries: snapshot.ProxyConfigType},
		snapshot.ProxyConfigType: {
			Prefix:    name,
			Resources: []cachetypes.ResourceWithName{proxy},
			Hashed:    []cachetypes.ResourceWithName{unlabelled(proxy)},
		},
		snapshot.FlagType: {Prefix: "f", Resources: resources(flags)},
	}
	return NewSnapshot(byType)
}

// unlabelled is pc without the policy version it names, which no proxy
// reads: two policy versions with the same identity and listeners get the
// same ProxyConfig hash, so a proxy pairing by content
// (ProxyConfigByContent) keeps its ProxyConfig across them.
func unlabelled(pc *keywayv1.ProxyConfig) *keywayv1.ProxyConfig {
	c := proto.Clone(pc).(*keywayv1.ProxyConfig)
	c.Version = ""
	return c
}

func applyRollout(domains []*keywayv1.Domain, r Rollout) error {
	for _, d := range domains {
		if d.GetName() != r.Domain {
			continue
		}
		canary := snapshot.Tree(snapshot.VersionName(r.Canary.GetVersion()), r.Canary.GetRendered(), r.Domain)
		if canary == nil {
			return fmt.Errorf("assemble: rollout %s: %s has no domain %q", r.ID, snapshot.VersionName(r.Canary.GetVersion()), r.Domain)
		}
		d.Canary, d.CanaryPercent, d.RolloutId = canary, r.Percent, r.ID
		return nil
	}
	return fmt.Errorf("assemble: rollout %s: the active policy has no domain %q", r.ID, r.Domain)
}

func resources[T cachetypes.ResourceWithName](rs []T) []cachetypes.ResourceWithName {
	out := make([]cachetypes.ResourceWithName, len(rs))
	for i, r := range rs {
		out[i] = r
	}
	return out
}
