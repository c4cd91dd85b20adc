package admin

import (
	"context"
	"slices"
	"sort"

	"keyway.dev/controlplane/rollout"
	"keyway.dev/controlplane/store"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Domains answers "what runs where": every domain of the active version
// with the version its stable tree runs, following the same rule the
// snapshot assembly does (a pin holds while the version it was made
// against is still active and the pinned version has the domain), and the
// rollout in progress, if any. active is the active version's record.
func Domains(ctx context.Context, st *store.Store, active *keywayv1.PolicyVersion) ([]*keywayv1.DomainVersion, error) {
	if active == nil || active.GetVersion() == 0 {
		return nil, nil
	}
	state, _, err := rollout.NewStore(st.Client(), st.Fleet()).State(ctx)
	if err != nil {
		return nil, err
	}
	unfinished := map[string]*keywayv1.Rollout{}
	for _, r := range state.Unfinished() {
		unfinished[r.GetDomain()] = r
	}
	pinned := map[uint64]*keywayv1.PolicyVersion{}
	var out []*keywayv1.DomainVersion
	for _, name := range domainNames(active) {
		dv := &keywayv1.DomainVersion{Domain: name, Version: active.GetVersion()}
		if pin := state.Pin(name); pin != nil && pin.GetBaseVersion() == active.GetVersion() && pin.GetVersion() != active.GetVersion() {
			pv, ok := pinned[pin.GetVersion()]
			if !ok {
				if pv, err = st.Get(ctx, pin.GetVersion()); err != nil {
					return nil, err
				}
				pinned[pin.GetVersion()] = pv
			}
			if slices.Contains(domainNames(pv), name) {
				dv.Version, dv.Pinned, dv.RolloutId = pin.GetVersion(), true, pin.GetRolloutId()
			}
		}
		if r := unfinished[name]; r != nil {
			dv.CanaryVersion, dv.CanaryPercent, dv.RolloutId = r.GetToVersion(), r.GetPercent(), r.GetId()
		}
		out = append(out, dv)
	}
	return out, nil
}

// EffectiveDomains are the domains whose stable tree runs version v.
func EffectiveDomains(domains []*keywayv1.DomainVersion, v uint64) []string {
	var out []string
	for _, d := range domains {
		if d.GetVersion() == v {
			out = append(out, d.GetDomain())
		}
	}
	return out
}

// domainNames are the workload domains a version declares, sorted.
func domainNames(v *keywayv1.PolicyVersion) []string {
	var out []string
	for _, d := range v.GetRendered().GetDomains() {
		out = append(out, d.GetName())
	}
	sort.Strings(out)
	return out
}
