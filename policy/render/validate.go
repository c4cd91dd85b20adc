package render

import (
	"fmt"

	"keyway.dev/policy/snapshot"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// finish checks what can only be checked once the whole policy has run,
// that names used anywhere are declared, and returns the policy.
func (s *state) finish() (*keywayv1.Policy, error) {
	if len(s.policy.GetDomains()) == 0 {
		s.errs = append(s.errs, &Error{
			Pos: s.bundle.GetEntry() + ":1:1",
			Msg: "the policy declares no domains: add domain(name, engine)",
		})
	}
	upstreams := names(s.policy.GetUpstreams())
	standalone := map[string]bool{}
	for _, u := range s.policy.GetUpstreams() {
		standalone[u.GetName()] = u.GetStandalone() != nil
	}
	for _, d := range s.policy.GetDomains() {
		s.checkLeaves(d.GetRoot(), upstreams, standalone)
	}
	s.checkRefs(s.upstreamRefs, "upstream", upstreams)
	s.checkRefs(s.domainRefs, "domain", names(s.policy.GetDomains()))
	if len(s.errs) == 0 {
		s.checkDefaultDomain()
	}
	if len(s.errs) > 0 {
		sortErrors(s.errs)
		return nil, s.errs
	}
	return s.policy, nil
}

// checkLeaves reports every upstream leaf under e that names no declared
// upstream, at the position where the name was written, and replica reads
// asked of a server that has no replicas to read from.
func (s *state) checkLeaves(e *keywayv1.Engine, upstreams []string, standalone map[string]bool) {
	snapshot.WalkAll(e, func(e *keywayv1.Engine) {
		f := e.GetUpstream()
		if f == nil {
			return
		}
		if f.GetReadFromReplicas() && standalone[f.GetName()] {
			s.errs = append(s.errs, &Error{
				Pos: e.GetSource(),
				Msg: fmt.Sprintf("upstream: read_from_replicas needs a redis_cluster upstream; %q is a standalone redis", f.GetName()),
			})
		}
		if contains(upstreams, f.GetName()) {
			return
		}
		s.errs = append(s.errs, &Error{
			Pos: e.GetSource(),
			Msg: fmt.Sprintf("unknown upstream %q%s", f.GetName(), didYouMean(f.GetName(), upstreams)),
		})
	})
}

// checkDefaultDomain reports a policy whose connections that no identity
// rule claims would land in a domain it does not declare: without
// identity(default_domain=...) that is the domain named "default", and a
// proxy would fail every command of such a connection, so it refuses the
// version; refusing it here says so at push. It is checked once the
// policy is otherwise valid, since it is a property of the whole policy.
// (An undeclared explicit default_domain is an unknown domain reference,
// reported by checkRefs.)
func (s *state) checkDefaultDomain() {
	if s.policy.GetIdentity().GetDefaultDomain() != "" || len(s.policy.GetDomains()) == 0 ||
		contains(names(s.policy.GetDomains()), snapshot.DefaultDomain) {
		return
	}
	pos := s.identity
	if pos == "" {
		pos = s.bundle.GetEntry() + ":1:1"
	}
	s.errs = append(s.errs, &Error{
		Pos: pos,
		Msg: fmt.Sprintf("connections no identity rule claims go to the domain %q, which this policy does not declare: declare domain(%q, ...) or set identity(default_domain = ...)", snapshot.DefaultDomain, snapshot.DefaultDomain),
	})
}

// checkRefs reports names that are not among known.
func (s *state) checkRefs(refs []ref, kind string, known []string) {
	for _, r := range refs {
		if contains(known, r.name) {
			continue
		}
		s.errs = append(s.errs, &Error{
			Pos: r.pos,
			Msg: fmt.Sprintf("%s: unknown %s %q%s", r.what, kind, r.name, didYouMean(r.name, known)),
		})
	}
}

// named is any declaration with a name.
type named interface{ GetName() string }

// names lists the names of decls in declaration order.
func names[T named](decls []T) []string {
	out := make([]string, len(decls))
	for i, d := range decls {
		out[i] = d.GetName()
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
