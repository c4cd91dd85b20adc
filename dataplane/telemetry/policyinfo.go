package telemetry

import (
	"bufio"
	"fmt"
	"slices"
	"strings"
)

// DomainVersion is the policy version one track of one domain runs on this
// proxy: what the control plane's admin API calls the domain's effective
// version, as the proxy applied it.
type DomainVersion struct {
	Domain string
	// Track is "stable", or "canary" while a rollout of the domain runs.
	Track   string
	Version string
}

// SetDomainVersions records what each domain runs after a policy was
// applied. A completed rollout pins a domain to a version other than the
// snapshot's, so the snapshot's version alone would hide it.
func (r *Recorder) SetDomainVersions(vs []DomainVersion) {
	vs = slices.Clone(vs)
	slices.SortFunc(vs, func(a, b DomainVersion) int {
		if c := strings.Compare(a.Domain, b.Domain); c != 0 {
			return c
		}
		return strings.Compare(a.Track, b.Track)
	})
	r.domainVersions.Store(&vs)
}

// DomainVersions is the last list given to SetDomainVersions, sorted by
// domain and track.
func (r *Recorder) DomainVersions() []DomainVersion {
	if p := r.domainVersions.Load(); p != nil {
		return slices.Clone(*p)
	}
	return nil
}

// writePolicyInfo writes keyway_policy_info: one row for the snapshot
// (version only, as before domains were pinned, so existing queries keep
// working) and one per domain and track. The skew alert compares the
// per-domain rows across proxies.
func (r *Recorder) writePolicyInfo(w *bufio.Writer) {
	family(w, "keyway_policy_info", "gauge", "The policy version this proxy applied (the row without a domain) and the version each domain's stable and canary track runs (pins and rollouts included); always 1.")
	if v := r.PolicyVersion(); v != "" {
		fmt.Fprintf(w, "keyway_policy_info{version=%s} 1\n", quote(v))
	}
	for _, d := range r.DomainVersions() {
		fmt.Fprintf(w, "keyway_policy_info{domain=%s,track=%s,version=%s} 1\n", quote(d.Domain), quote(d.Track), quote(d.Version))
	}
}
