package xds

import (
	"context"
	"fmt"
	"maps"
	"sync"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"keyway.dev/policy/snapshot"
)

// fleetCache serves the fleet's one snapshot to every SotW stream: it
// marshals each type's resources once per version and hands the same
// bytes to every stream, and it never holds its lock while it answers
// watches. (go-control-plane's SnapshotCache marshals per response, so
// per stream, and holds its cache-wide lock while it answers all of
// them.) Delta streams and Fetch go to the embedded SnapshotCache, kept
// on the same snapshot.
//
// It also makes sure nothing is sent twice. A NACK carries the last
// version the proxy accepted, so a cache would answer it at once with the
// version just refused, in a tight loop (go-control-plane issue #962):
// the NACK is taken as if the proxy were at the refused version, which
// parks the watch until the snapshot changes. And a proxy reconnecting
// with the version it runs is not resent it: versions are content
// hashes, so a matching version means the proxy has exactly these
// resources. For a proxy with ProxyConfigByContent a ProxyConfig of the
// same content under an older policy version matches too.
type fleetCache struct {
	cachev3.SnapshotCache
	tracker *Tracker

	mu       sync.Mutex
	snap     *Snapshot
	prepared map[string]*prepared // by type URL, for snap
	watches  map[int64]*watch
	nextID   int64
}

// prepared is one type's resources at one version, marshalled once and
// shared read-only by every response.
type prepared struct {
	version   string
	hash      string // of version, for streams that compare by content
	resources []*anypb.Any
	returned  map[string]string // name -> version, what a stream now has
}

// current reports whether a stream at version has p: the same version,
// or for a stream comparing by content (a ProxyConfig watch of a proxy
// with ProxyConfigByContent) the same content under any policy version.
func (p *prepared) current(version string, byContent bool) bool {
	if byContent {
		return hashOf(version) == p.hash
	}
	return version == p.version
}

type watch struct {
	req       *cachev3.Request
	ch        chan cachev3.Response
	byContent bool
}

// comparesByContent reports whether req's watch is satisfied by equal
// content: a ProxyConfig request of a proxy with ProxyConfigByContent.
func comparesByContent(req *cachev3.Request) bool {
	return req.GetTypeUrl() == snapshot.ProxyConfigType && byContent(req.GetNode())
}

var _ cachev3.Cache = (*fleetCache)(nil)

func newFleetCache(inner cachev3.SnapshotCache, tracker *Tracker) *fleetCache {
	return &fleetCache{SnapshotCache: inner, tracker: tracker, watches: map[int64]*watch{}}
}

// prepare marshals every type of snap.
func prepare(snap *Snapshot) (map[string]*prepared, error) {
	out := make(map[string]*prepared, len(snap.versions))
	for typeURL, version := range snap.versions {
		rs := snap.resources[typeURL]
		p := &prepared{version: version, hash: hashOf(version), resources: make([]*anypb.Any, 0, len(rs)), returned: make(map[string]string, len(rs))}
		for name, r := range rs {
			b, err := cachev3.MarshalResource(r.Resource)
			if err != nil {
				return nil, fmt.Errorf("marshal %s %q: %w", typeURL, name, err)
			}
			p.resources = append(p.resources, &anypb.Any{TypeUrl: typeURL, Value: b})
			p.returned[name] = version
		}
		out[typeURL] = p
	}
	return out, nil
}

// SetSnapshot installs snap for every proxy and answers the watches of
// every type whose version changed. Marshalling happens before the lock
// is taken and answering after it is released.
func (c *fleetCache) SetSnapshot(ctx context.Context, node string, s cachev3.ResourceSnapshot) error {
	snap, ok := s.(*Snapshot)
	if !ok {
		return fmt.Errorf("xds: snapshot of type %T", s)
	}
	p, err := prepare(snap)
	if err != nil {
		return err
	}
	if err := c.SnapshotCache.SetSnapshot(ctx, node, snap); err != nil {
		return err
	}
	c.mu.Lock()
	c.snap, c.prepared = snap, p
	var due []*watch
	for id, w := range c.watches {
		if pr := p[w.req.GetTypeUrl()]; pr != nil && !pr.current(w.req.GetVersionInfo(), w.byContent) {
			due = append(due, w)
			delete(c.watches, id)
		}
	}
	c.mu.Unlock()
	for _, w := range due {
		answer(w, p[w.req.GetTypeUrl()])
	}
	return nil
}

// CreateWatch answers req at once when the proxy lacks the current
// version of its type, else parks it until the version changes.
func (c *fleetCache) CreateWatch(req *cachev3.Request, _ cachev3.Subscription, ch chan cachev3.Response) (func(), error) {
	version := req.GetVersionInfo()
	if v, ok := c.tracker.takeParked(req); ok {
		version = v
	}
	bc := comparesByContent(req)
	c.mu.Lock()
	if p := c.prepared[req.GetTypeUrl()]; p != nil && !p.current(version, bc) {
		c.mu.Unlock()
		answer(&watch{req: req, ch: ch}, p)
		return func() {}, nil
	}
	if version != req.GetVersionInfo() {
		req = cloneWithVersion(req, version)
	}
	c.nextID++
	id := c.nextID
	c.watches[id] = &watch{req: req, ch: ch, byContent: bc}
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		delete(c.watches, id)
		c.mu.Unlock()
	}, nil
}

// cloneWithVersion copies req, claiming version, so the watch waits for
// a version other than the one the proxy refused.
func cloneWithVersion(req *cachev3.Request, version string) *cachev3.Request {
	c := proto.Clone(req).(*cachev3.Request)
	c.VersionInfo = version
	return c
}

// answer sends p to w. The server reads every watch's channel from the
// stream's goroutine, the one that may be calling CreateWatch, and gives
// it room for a response per type (ADS) or for its one response, and a
// stream holds one watch per type: the send never waits. Were the
// channel ever full, dropping the response (the proxy keeps its version
// until the next one) beats stalling the push to every other stream.
func answer(w *watch, p *prepared) {
	select {
	case w.ch <- &response{req: w.req, p: p}:
	default:
	}
}

// response is p as the answer to req. Each call of GetDiscoveryResponse
// returns a new message (the server stamps its nonce on it) around the
// shared, already marshalled resources.
type response struct {
	req *cachev3.Request
	p   *prepared
}

var _ cachev3.Response = (*response)(nil)

func (r *response) GetDiscoveryResponse() (*discovery.DiscoveryResponse, error) {
	return &discovery.DiscoveryResponse{VersionInfo: r.p.version, Resources: r.p.resources, TypeUrl: r.req.GetTypeUrl()}, nil
}

func (r *response) GetRequest() *discovery.DiscoveryRequest { return r.req }

func (r *response) GetVersion() (string, error) { return r.p.version, nil }

func (r *response) GetResponseVersion() string { return r.p.version }

// GetReturnedResources returns a copy: the server keeps it in the
// stream's subscription.
func (r *response) GetReturnedResources() map[string]string { return maps.Clone(r.p.returned) }

func (r *response) GetContext() context.Context { return context.Background() }
