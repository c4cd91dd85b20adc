// Package snapshot turns a rendered policy into the resources proxies
// receive: one self-contained Domain per workload domain and the
// ProxyConfig. The control plane and the proxy's --policy mode both use it,
// so a policy means the same thing wherever it is applied.
package snapshot

import (
	"fmt"
	"sort"

	"google.golang.org/protobuf/proto"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Type URLs of Keyway's resources.
const (
	DomainType      = "type.googleapis.com/keyway.v1.Domain"
	FlagType        = "type.googleapis.com/keyway.v1.Flag"
	ProxyConfigType = "type.googleapis.com/keyway.v1.ProxyConfig"
)

// DefaultDomain is where connections go that no identity rule claims.
const DefaultDomain = "default"

// ProxyConfigName is the name of the one ProxyConfig resource.
const ProxyConfigName = "proxy"

// VersionName renders a policy version number as users see it ("v3").
func VersionName(v uint64) string { return fmt.Sprintf("v%d", v) }

// Tree returns domain's tree from p, carrying only the upstreams the tree
// names, or nil if p has no such domain.
func Tree(version string, p *keywayv1.Policy, domain string) *keywayv1.DomainTree {
	for _, d := range p.GetDomains() {
		if d.GetName() != domain {
			continue
		}
		used := map[string]bool{}
		collectUpstreams(d.GetRoot(), used)
		var ups []*keywayv1.Upstream
		for _, u := range p.GetUpstreams() {
			if used[u.GetName()] {
				ups = append(ups, proto.Clone(u).(*keywayv1.Upstream))
			}
		}
		return &keywayv1.DomainTree{
			Version:   version,
			Root:      proto.Clone(d.GetRoot()).(*keywayv1.Engine),
			Upstreams: ups,
			// The allowance travels with the tree, so a canary tree from
			// another version carries its own.
			AllowAdminCommands: append([]string(nil), d.GetAllowAdminCommands()...),
		}
	}
	return nil
}

// Domains returns one stable Domain resource per domain of p, sorted by
// name.
func Domains(version string, p *keywayv1.Policy) []*keywayv1.Domain {
	out := make([]*keywayv1.Domain, 0, len(p.GetDomains()))
	for _, d := range p.GetDomains() {
		out = append(out, &keywayv1.Domain{Name: d.GetName(), Stable: Tree(version, p, d.GetName())})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

// Proxy returns the ProxyConfig resource of p.
func Proxy(version string, p *keywayv1.Policy) *keywayv1.ProxyConfig {
	pc := &keywayv1.ProxyConfig{Name: ProxyConfigName, Version: version, Identity: &keywayv1.Identity{}}
	if p.GetIdentity() != nil {
		pc.Identity = proto.Clone(p.GetIdentity()).(*keywayv1.Identity)
	}
	if pc.Identity.DefaultDomain == "" {
		// The policy language promises that connections no rule claims
		// land in the domain named "default".
		pc.Identity.DefaultDomain = DefaultDomain
	}
	for _, l := range p.GetListeners() {
		pc.Listeners = append(pc.Listeners, proto.Clone(l).(*keywayv1.Listener))
	}
	return pc
}

// collectUpstreams adds the name of every upstream leaf under e to used.
// It walks the tree generically so new engine kinds need no change here.
func collectUpstreams(e *keywayv1.Engine, used map[string]bool) {
	if e == nil {
		return
	}
	if f := e.GetUpstream(); f != nil {
		used[f.GetName()] = true
		return
	}
	Walk(e, func(child *keywayv1.Engine) { collectUpstreams(child, used) })
}
