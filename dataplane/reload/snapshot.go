package reload

import (
	"fmt"
	"slices"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

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

// Snapshot tracks the latest accepted resources per type URL and drives
// an Applier: Domain or ProxyConfig changes rebuild the State, Flag
// changes only swap the flag set. It is the xdsclient handler of a proxy.
//
// The first State is built once both Domain and ProxyConfig resources
// have arrived, since a State without its ProxyConfig cannot place
// connections in domains.
type Snapshot struct {
	applier *Applier
	file    string

	mu       sync.Mutex
	domains  []*keywayv1.Domain
	proxy    *keywayv1.ProxyConfig
	flags    []*keywayv1.Flag
	raw      map[string][]*anypb.Any
	versions map[string]string
}

// NewSnapshot returns a Snapshot applying through a. When dir is not
// empty, every applied snapshot is saved to a file in it, and Load
// restores it.
func NewSnapshot(a *Applier, dir string) *Snapshot {
	s := &Snapshot{applier: a, raw: map[string][]*anypb.Any{}, versions: map[string]string{}}
	if dir != "" {
		s.file = stateFile(dir)
	}
	return s
}

// OnResources accepts the full set of resources of typeURL at version, as
// a state-of-the-world response carries it. A nil error means applied
// (ACK); an error means rejected (NACK), and the previous resources stay
// in force.
func (s *Snapshot) OnResources(typeURL, version string, resources []*anypb.Any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.accept(typeURL, version, resources); err != nil {
		return err
	}
	s.save()
	return nil
}

func (s *Snapshot) accept(typeURL, version string, resources []*anypb.Any) error {
	switch typeURL {
	case DomainType:
		domains, err := decodeDomains(resources)
		if err != nil {
			return err
		}
		if err := s.apply(domains, s.proxy, typeURL, version); err != nil {
			return err
		}
		s.domains = domains
	case ProxyConfigType:
		proxy, err := decodeProxy(resources)
		if err != nil {
			return err
		}
		if err := s.apply(s.domains, proxy, typeURL, version); err != nil {
			return err
		}
		s.proxy = proxy
	case FlagType:
		flags, err := decodeFlags(resources)
		if err != nil {
			return err
		}
		s.applier.ApplyFlags(flags)
		s.flags = flags
	default:
		return fmt.Errorf("unknown resource type %q", typeURL)
	}
	s.raw[typeURL] = resources
	s.versions[typeURL] = version
	return nil
}

// apply rebuilds the State when domains or proxy differ from what is
// installed, once both have been received.
func (s *Snapshot) apply(domains []*keywayv1.Domain, proxy *keywayv1.ProxyConfig, typeURL, version string) error {
	_, haveDomains := s.versions[DomainType]
	_, haveProxy := s.versions[ProxyConfigType]
	if typeURL == DomainType {
		haveDomains = true
	} else {
		haveProxy = true
	}
	if !haveDomains || !haveProxy {
		return nil
	}
	unchanged := s.applier.Current().Load() != nil &&
		proto.Equal(proxy, s.proxy) &&
		slices.EqualFunc(domains, s.domains, func(a, b *keywayv1.Domain) bool { return proto.Equal(a, b) })
	if unchanged {
		return nil
	}
	return s.applier.Apply(domains, proxy, version)
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
