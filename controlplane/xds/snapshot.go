// Package xds serves Keyway's resources (Domain, Flag, ProxyConfig) to
// proxies over ADS with go-control-plane, parks NACKed versions instead of
// resending them, and records per node what it runs and what it refused.
package xds

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"sync"

	cachetypes "github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/proto"
)

// Snapshot is an immutable set of resources per type URL, each type with
// its own version. go-control-plane's Snapshot only knows Envoy's types,
// hence this implementation of its ResourceSnapshot interface.
type Snapshot struct {
	versions  map[string]string
	resources map[string]map[string]cachetypes.ResourceWithTTL
	// vmap is built once, lazily, for delta streams only.
	vmapOnce sync.Once
	vmap     map[string]map[string]string
	vmapErr  error
}

var _ cachev3.ResourceSnapshot = (*Snapshot)(nil)

// Typed is the resources of one type with the prefix of its version
// string ("v3" for policy resources, "f" for flags).
type Typed struct {
	Prefix    string
	Resources []cachetypes.ResourceWithName
	// Carries names another type of the snapshot whose content hash this
	// type's version carries after its own: the Domains' version names
	// the ProxyConfig they go with (see ProxyConfigByContent).
	Carries string
	// Hashed, when set, is what the version's hash covers instead of
	// Resources: the same resources without fields that only label them.
	Hashed []cachetypes.ResourceWithName
}

// NewSnapshot builds a snapshot whose version for each type is
// "<prefix>-<hash>", the hash covering that type's resources in name order
// (followed by the hash of the type it Carries), so equal content gets an
// equal version in any process.
func NewSnapshot(byType map[string]Typed) (*Snapshot, error) {
	s := &Snapshot{
		versions:  make(map[string]string, len(byType)),
		resources: make(map[string]map[string]cachetypes.ResourceWithTTL, len(byType)),
	}
	hashes := make(map[string]string, len(byType))
	for typeURL, t := range byType {
		m := make(map[string]cachetypes.ResourceWithTTL, len(t.Resources))
		for _, r := range t.Resources {
			if _, dup := m[r.GetName()]; dup {
				return nil, fmt.Errorf("snapshot: two %s resources named %q", typeURL, r.GetName())
			}
			m[r.GetName()] = cachetypes.ResourceWithTTL{Resource: r}
		}
		hashed := t.Resources
		if t.Hashed != nil {
			hashed = t.Hashed
		}
		h, err := contentHash(hashed)
		if err != nil {
			return nil, fmt.Errorf("snapshot: hash %s: %w", typeURL, err)
		}
		hashes[typeURL] = h
		s.resources[typeURL] = m
	}
	for typeURL, t := range byType {
		carried := ""
		if t.Carries != "" {
			var ok bool
			if carried, ok = hashes[t.Carries]; !ok {
				return nil, fmt.Errorf("snapshot: %s carries the version of %s, which it lacks", typeURL, t.Carries)
			}
		}
		s.versions[typeURL] = t.Prefix + "-" + hashes[typeURL] + carried
	}
	return s, nil
}

// contentHash is the first 8 hex digits of a SHA-256 over the
// deterministic encoding of rs sorted by name.
func contentHash(rs []cachetypes.ResourceWithName) (string, error) {
	sorted := append([]cachetypes.ResourceWithName(nil), rs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].GetName() < sorted[j].GetName() })
	h := sha256.New()
	var n [8]byte
	for _, r := range sorted {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
		if err != nil {
			return "", fmt.Errorf("marshal %q: %w", r.GetName(), err)
		}
		// Length-prefix each part so boundaries cannot shift between them.
		for _, part := range [][]byte{[]byte(r.GetName()), b} {
			binary.BigEndian.PutUint64(n[:], uint64(len(part)))
			h.Write(n[:])
			h.Write(part)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:8], nil
}

// GetVersion returns typeURL's version, or "" for a type not served.
func (s *Snapshot) GetVersion(typeURL string) string { return s.versions[typeURL] }

// GetResourcesAndTTL returns typeURL's resources by name.
func (s *Snapshot) GetResourcesAndTTL(typeURL string) map[string]cachetypes.ResourceWithTTL {
	return s.resources[typeURL]
}

// GetResources returns typeURL's resources by name, without TTLs.
func (s *Snapshot) GetResources(typeURL string) map[string]cachetypes.Resource {
	rs := s.resources[typeURL]
	out := make(map[string]cachetypes.Resource, len(rs))
	for name, r := range rs {
		out[name] = r.Resource
	}
	return out
}

// ConstructVersionMap computes per-resource versions for delta streams.
func (s *Snapshot) ConstructVersionMap() error {
	s.vmapOnce.Do(func() { s.vmap, s.vmapErr = s.versionMap() })
	return s.vmapErr
}

func (s *Snapshot) versionMap() (map[string]map[string]string, error) {
	vmap := make(map[string]map[string]string, len(s.resources))
	for typeURL, rs := range s.resources {
		m := make(map[string]string, len(rs))
		for name, r := range rs {
			b, err := cachev3.MarshalResource(r.Resource)
			if err != nil {
				return nil, fmt.Errorf("marshal %s %q: %w", typeURL, name, err)
			}
			m[name] = cachev3.HashResource(b)
		}
		vmap[typeURL] = m
	}
	return vmap, nil
}

// GetVersionMap returns per-resource versions of typeURL for delta streams.
func (s *Snapshot) GetVersionMap(typeURL string) map[string]string { return s.vmap[typeURL] }
