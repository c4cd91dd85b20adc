package upstream

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"google.golang.org/protobuf/proto"

	"keyway.dev/dataplane/engine"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// ErrClusterUnsupported is returned by Acquire for Redis Cluster upstreams
// when no ClusterFunc was set.
var ErrClusterUnsupported = errors.New("redis_cluster upstreams are not supported yet")

// Shared is a client Pools refcounts other than a Node: a Redis Cluster
// client, which keeps its own nodes. Named returns the view of it that
// reports name; Close stops it once its requests are answered.
type Shared interface {
	Named(name string) engine.Upstream
	Close()
}

// ClusterFunc builds the shared client of a Redis Cluster upstream from
// its declaration and the node options Pools would use. It lives outside
// this package (dataplane/cluster builds on Node), so the proxy hands it
// to Pools with SetCluster.
type ClusterFunc func(u *keywayv1.Upstream, opts Options) (Shared, error)

// Pools hands out upstream clients by identity: kind, addresses, TLS,
// credential references and pool options, but not the name. Two trees
// naming the same Redis share its connections, and a reload that does not
// change an upstream opens no connection. Clients are refcounted; the last
// release closes the node once its in-flight requests are answered.
type Pools struct {
	opts    Options
	log     *slog.Logger
	cluster ClusterFunc

	mu      sync.Mutex
	entries map[string]*entry
	closed  bool
	closing sync.WaitGroup // nodes draining after their last release
}

var _ engine.Upstreams = (*Pools)(nil)

type entry struct {
	node   *Node
	shared Shared // instead of node, for cluster upstreams
	refs   int
	names  map[string]int
}

// NewPools returns an empty set of pools whose nodes use opts, overridden
// per upstream by its policy's pool settings.
func NewPools(opts Options, log *slog.Logger) *Pools {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pools{opts: opts, log: log, entries: map[string]*entry{}}
}

// SetCluster makes Acquire serve Redis Cluster upstreams with f; call it
// before the first Acquire.
func (p *Pools) SetCluster(f ClusterFunc) { p.cluster = f }

// Acquire returns the client for u and the func that releases it. Errors
// are about configuration (a missing secret or CA bundle, an unsupported
// kind), never about Redis being down, so a snapshot is refused only for
// what a retry cannot fix.
func (p *Pools) Acquire(u *keywayv1.Upstream) (engine.Upstream, func(), error) {
	addr, err := standaloneAddr(u)
	if errors.Is(err, ErrClusterUnsupported) && p.cluster != nil {
		err = nil
	}
	if err != nil {
		return nil, nil, err
	}
	key, err := identity(u)
	if err != nil {
		return nil, nil, err
	}
	name := u.GetName()

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, nil, errors.New("upstream pools are closed")
	}
	e, ok := p.entries[key]
	if !ok {
		e = &entry{names: map[string]int{}}
		if u.GetCluster() != nil {
			shared, err := p.cluster(u, p.opts.WithPool(u.GetPool()))
			if err != nil {
				return nil, nil, err
			}
			e.shared = shared
			p.log.Info("upstream cluster opened", "upstream", name, "seeds", u.GetCluster().GetSeeds())
		} else {
			node, err := NewNode(u, addr, p.opts.WithPool(u.GetPool()))
			if err != nil {
				return nil, nil, err
			}
			e.node = node
			p.log.Info("upstream node opened", "upstream", name, "addr", addr)
		}
		p.entries[key] = e
	}
	e.refs++
	e.names[name]++
	var once sync.Once
	release := func() { once.Do(func() { p.release(key, e, name) }) }
	if e.shared != nil {
		return e.shared.Named(name), release, nil
	}
	return NewClient(name, e.node), release, nil
}

// close stops what e holds.
func (e *entry) close() {
	if e.shared != nil {
		e.shared.Close()
		return
	}
	e.node.Close()
}

func (p *Pools) release(key string, e *entry, name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e.refs--
	if e.names[name]--; e.names[name] == 0 {
		delete(e.names, name)
	}
	if e.refs > 0 || p.entries[key] != e {
		return
	}
	delete(p.entries, key)
	if e.node != nil {
		p.log.Info("upstream node closing", "upstream", name, "addr", e.node.addr)
	} else {
		p.log.Info("upstream cluster closing", "upstream", name)
	}
	p.closing.Add(1)
	go func() {
		defer p.closing.Done()
		e.close()
	}()
}

// StatsReporter is a Shared client that can describe its nodes, as a
// Redis Cluster client describes every primary and replica it keeps.
type StatsReporter interface {
	// Stats describes each node once; Upstreams is left empty.
	Stats() []NodeStats
}

// Stats describes every open node, the nodes of cluster upstreams
// included.
func (p *Pools) Stats() []NodeStats {
	p.mu.Lock()
	type named struct {
		n      *Node
		shared StatsReporter
		names  []string
	}
	nodes := make([]named, 0, len(p.entries))
	for _, e := range p.entries {
		sr, _ := e.shared.(StatsReporter)
		if e.node == nil && sr == nil {
			continue
		}
		names := make([]string, 0, len(e.names))
		for n := range e.names {
			names = append(names, n)
		}
		sort.Strings(names)
		nodes = append(nodes, named{e.node, sr, names})
	}
	p.mu.Unlock()
	out := make([]NodeStats, 0, len(nodes))
	for _, nn := range nodes {
		if nn.shared != nil {
			for _, s := range nn.shared.Stats() {
				s.Upstreams = nn.names
				out = append(out, s)
			}
			continue
		}
		s := nn.n.Stats()
		s.Upstreams = nn.names
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}

// Close closes every node, referenced or not, and waits for them.
func (p *Pools) Close() {
	p.mu.Lock()
	p.closed = true
	entries := p.entries
	p.entries = map[string]*entry{}
	for _, e := range entries {
		p.closing.Add(1)
		go func() {
			defer p.closing.Done()
			e.close()
		}()
	}
	p.mu.Unlock()
	p.closing.Wait()
}

// standaloneAddr returns u's address or why it cannot be served.
func standaloneAddr(u *keywayv1.Upstream) (string, error) {
	switch k := u.GetKind().(type) {
	case *keywayv1.Upstream_Standalone:
		if k.Standalone.GetAddress() == "" {
			return "", errors.New("standalone upstream has no address")
		}
		return k.Standalone.GetAddress(), nil
	case *keywayv1.Upstream_Cluster:
		return "", ErrClusterUnsupported
	}
	return "", errors.New("upstream has no kind (standalone or redis_cluster)")
}

// identity is what makes two upstreams the same connections: everything
// but the name and the source position.
func identity(u *keywayv1.Upstream) (string, error) {
	c := proto.Clone(u).(*keywayv1.Upstream)
	c.Name = ""
	c.Source = ""
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("upstream identity: %w", err)
	}
	return string(b), nil
}
