package reload

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"keyway.dev/dataplane/xdsclient"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Type URLs of the resources a proxy subscribes to. They must equal the
// control plane's (controlplane/snapshot); the proxy does not import the
// control plane module.
const (
	DomainType      = "type.googleapis.com/keyway.v1.Domain"
	FlagType        = "type.googleapis.com/keyway.v1.Flag"
	ProxyConfigType = "type.googleapis.com/keyway.v1.ProxyConfig"
)

// TypeURLs lists every type a proxy subscribes to, in the order they
// are requested.
var TypeURLs = []string{ProxyConfigType, DomainType, FlagType}

// ProxyConfigByContent is the client feature (node client_features) by
// which a proxy tells the control plane that it pairs Domains with the
// ProxyConfig whose content hash their version carries, so a ProxyConfig
// that did not change need not be resent under each new policy version.
// It must equal controlplane/xds's.
const ProxyConfigByContent = "keyway.proxy_config_by_content"

// Snapshot tracks the resources a proxy runs per type URL and drives an
// Applier; it is the xdsclient handler of a proxy.
//
// A policy version is applied whole or not at all. Its ProxyConfig and
// its Domains arrive as separate responses, in either order, so the
// first to arrive is held (xdsclient.ErrHeld: neither ACKed nor NACKed)
// until its partner does; then the two are validated and built together,
// and both are ACKed, or both NACKed with nothing changed, in memory and
// on disk. A Domain version "v3-<16 hex>" names its partner by content:
// the ProxyConfig whose version's hash is those 16 digits' last 8, of any
// policy version, so a ProxyConfig the control plane did not resend
// (ProxyConfigByContent) pairs with the Domains of the new version. Other
// versions pair by policy version, their part before the first "-" ("v3"
// of "v3-0123abcd"). Either way a Domain update within one version (a
// rollout step) applies on its own. Flags are versioned apart from
// policies and apply on their own.
type Snapshot struct {
	applier *Applier
	file    string

	mu       sync.Mutex
	domains  []*keywayv1.Domain
	proxy    *keywayv1.ProxyConfig
	raw      map[string][]*anypb.Any
	versions map[string]string
	// held is the response per type URL waiting for the rest of its
	// policy version; settled are verdicts on held responses not yet
	// collected by Settled.
	held    map[string]*pending
	settled map[string]xdsclient.Verdict
}

// pending is a decoded response not yet applied.
type pending struct {
	version   string
	resources []*anypb.Any
	domains   []*keywayv1.Domain
	proxy     *keywayv1.ProxyConfig
}

var _ xdsclient.Settler = (*Snapshot)(nil)

// NewSnapshot returns a Snapshot applying through a. When dir is not
// empty, every applied snapshot is saved to a file in it, and Load
// restores it.
func NewSnapshot(a *Applier, dir string) *Snapshot {
	s := &Snapshot{
		applier:  a,
		raw:      map[string][]*anypb.Any{},
		versions: map[string]string{},
		held:     map[string]*pending{},
		settled:  map[string]xdsclient.Verdict{},
	}
	if dir != "" {
		s.file = stateFile(dir)
	}
	return s
}

// OnResources accepts the full set of resources of typeURL at version, as
// a state-of-the-world response carries it. A nil error means applied
// (ACK); xdsclient.ErrHeld means held until the rest of its policy
// version arrives; any other error means rejected (NACK), and what was
// in force stays in force.
func (s *Snapshot) OnResources(typeURL, version string, resources []*anypb.Any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.accept(typeURL, version, resources); err != nil {
		return err
	}
	s.save()
	return nil
}

// ClientFeatures are what the xdsclient announces for this handler.
func (s *Snapshot) ClientFeatures() []string { return []string{ProxyConfigByContent} }

// Settled returns and forgets the verdicts on held responses.
func (s *Snapshot) Settled() map[string]xdsclient.Verdict {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.settled
	s.settled = map[string]xdsclient.Verdict{}
	return out
}

func (s *Snapshot) accept(typeURL, version string, resources []*anypb.Any) error {
	switch typeURL {
	case DomainType:
		domains, err := decodeDomains(resources)
		if err != nil {
			return s.refuse(typeURL, version, err)
		}
		return s.stage(typeURL, &pending{version: version, resources: resources, domains: domains})
	case ProxyConfigType:
		proxy, err := decodeProxy(resources)
		if err != nil {
			return s.refuse(typeURL, version, err)
		}
		return s.stage(typeURL, &pending{version: version, resources: resources, proxy: proxy})
	case FlagType:
		flags, err := decodeFlags(resources)
		if err != nil {
			return err
		}
		s.applier.ApplyFlags(flags)
		s.raw[typeURL] = resources
		s.versions[typeURL] = version
		return nil
	default:
		return fmt.Errorf("unknown resource type %q", typeURL)
	}
}

// partner is the other half of a policy version.
func partner(typeURL string) string {
	if typeURL == DomainType {
		return ProxyConfigType
	}
	return DomainType
}

// stage holds p, the Domains or ProxyConfig of a policy version, and
// applies it with its partner of the same policy version: the one held,
// else the one in force. Without such a partner p stays held.
func (s *Snapshot) stage(typeURL string, p *pending) error {
	other := partner(typeURL)
	o := s.held[other]
	if o == nil || !pairs(typeURL, p.version, o.version) {
		o = nil
		if v, ok := s.versions[other]; ok && pairs(typeURL, p.version, v) {
			o = &pending{version: v, resources: s.raw[other], domains: s.domains, proxy: s.proxy}
		}
	}
	if o == nil {
		// A held partner of another version will not pair with p, and
		// the control plane sends its type nothing newer until it is
		// answered: release it, so the partner p waits for can come.
		if h := s.held[other]; h != nil {
			delete(s.held, other)
			s.settled[other] = xdsclient.Verdict{Version: h.version, Superseded: true}
		}
		s.held[typeURL] = p
		return xdsclient.ErrHeld
	}
	delete(s.held, typeURL)
	_, heldOther := s.held[other]
	if heldOther && s.held[other].version == o.version {
		delete(s.held, other)
	} else {
		heldOther = false
	}
	dp, pp := p, o
	if typeURL == ProxyConfigType {
		dp, pp = o, p
	}
	err := s.apply(dp.domains, pp.proxy, dp.version)
	if heldOther {
		s.settled[other] = xdsclient.Verdict{Version: o.version, Err: err}
	}
	if err != nil {
		return err
	}
	s.domains, s.proxy = dp.domains, pp.proxy
	s.raw[DomainType], s.versions[DomainType] = dp.resources, dp.version
	s.raw[ProxyConfigType], s.versions[ProxyConfigType] = pp.resources, pp.version
	return nil
}

// refuse rejects a response that cannot be decoded, and with it a held
// partner of the same policy version.
func (s *Snapshot) refuse(typeURL, version string, err error) error {
	delete(s.held, typeURL)
	other := partner(typeURL)
	if o := s.held[other]; o != nil && pairs(typeURL, version, o.version) {
		delete(s.held, other)
		s.settled[other] = xdsclient.Verdict{Version: o.version, Err: err}
	}
	return err
}

// apply rebuilds the State unless domains and proxy are what is
// installed.
func (s *Snapshot) apply(domains []*keywayv1.Domain, proxy *keywayv1.ProxyConfig, version string) error {
	unchanged := s.applier.Current().Load() != nil &&
		proto.Equal(proxy, s.proxy) &&
		slices.EqualFunc(domains, s.domains, func(a, b *keywayv1.Domain) bool { return proto.Equal(a, b) })
	if unchanged {
		return nil
	}
	return s.applier.Apply(domains, proxy, version)
}

// policyOf is the policy version of a resource version: "v3" of the
// control plane's "v3-0123abcd", a version without "-" whole.
func policyOf(version string) string {
	head, _, _ := strings.Cut(version, "-")
	return head
}

// pairs reports whether a typeURL response at version and one of its
// partner type at otherVersion make one policy version.
func pairs(typeURL, version, otherVersion string) bool {
	domains, proxy := version, otherVersion
	if typeURL == ProxyConfigType {
		domains, proxy = otherVersion, version
	}
	if want, ok := carriedProxyConfig(domains); ok {
		_, hash, _ := strings.Cut(proxy, "-")
		return hash == want
	}
	return policyOf(domains) == policyOf(proxy)
}

// carriedProxyConfig is the ProxyConfig hash a Domain version carries:
// the last 8 of the 16 hex digits after its policy version.
func carriedProxyConfig(domainVersion string) (string, bool) {
	_, hash, ok := strings.Cut(domainVersion, "-")
	if !ok || len(hash) != 16 {
		return "", false
	}
	for _, c := range hash {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", false
		}
	}
	return hash[8:], true
}

// Versions returns the accepted version per type URL, to resume a
// subscription without the server resending what the proxy has.
func (s *Snapshot) Versions() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.versions))
	for k, v := range s.versions {
		out[k] = v
	}
	return out
}

func decodeDomains(resources []*anypb.Any) ([]*keywayv1.Domain, error) {
	out := make([]*keywayv1.Domain, 0, len(resources))
	for _, r := range resources {
		d := &keywayv1.Domain{}
		if err := r.UnmarshalTo(d); err != nil {
			return nil, fmt.Errorf("decode domain resource: %w", err)
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *keywayv1.Domain) int {
		if a.GetName() < b.GetName() {
			return -1
		}
		if a.GetName() > b.GetName() {
			return 1
		}
		return 0
	})
	return out, nil
}

func decodeProxy(resources []*anypb.Any) (*keywayv1.ProxyConfig, error) {
	if len(resources) != 1 {
		return nil, fmt.Errorf("want exactly one proxy config resource, got %d", len(resources))
	}
	p := &keywayv1.ProxyConfig{}
	if err := resources[0].UnmarshalTo(p); err != nil {
		return nil, fmt.Errorf("decode proxy config resource: %w", err)
	}
	return p, nil
}

func decodeFlags(resources []*anypb.Any) ([]*keywayv1.Flag, error) {
	out := make([]*keywayv1.Flag, 0, len(resources))
	for _, r := range resources {
		f := &keywayv1.Flag{}
		if err := r.UnmarshalTo(f); err != nil {
			return nil, fmt.Errorf("decode flag resource: %w", err)
		}
		out = append(out, f)
	}
	return out, nil
}
