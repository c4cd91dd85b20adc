package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// DefaultRefreshInterval is the periodic topology refresh when the policy
// sets none.
const DefaultRefreshInterval = 30 * time.Second

// Client is one Redis Cluster upstream, shared by every tree that names
// the same identity: the slot map, one upstream.Node per cluster node and
// the refresh loop. Named gives each upstream name its own view.
type Client struct {
	name string
	u    *keywayv1.Upstream
	cfg  *keywayv1.Cluster
	opts upstream.Options
	tls  bool

	top atomic.Pointer[topology]

	mu     sync.Mutex // guards nodes and installs of top
	nodes  map[nodeKey]*upstream.Node
	seeds  []string
	closed bool

	rmu     sync.Mutex
	next    chan struct{} // closed when the next refresh completes
	lastErr error         // of the latest refresh, under rmu
	kick    chan struct{}

	rr     atomic.Uint32
	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var (
	_ engine.Upstream = (*Client)(nil)
	_ upstream.Shared = (*Client)(nil)
)

// topology is a Map with the nodes of each shard resolved, so that the
// data path reads one atomic pointer and takes no lock.
type topology struct {
	m         *Map
	primaries []*upstream.Node
	replicas  [][]*upstream.Node
	// replaced is closed when another topology is installed, for
	// watchers that keep state per primary (View.Watch).
	replaced chan struct{}
}

// New starts a client for the cluster u declares, with opts for every
// node's connections. It fails only for configuration that cannot work
// (no seeds, a missing secret or CA bundle); an unreachable cluster is a
// state: discovery keeps trying and requests fail until it succeeds.
func New(u *keywayv1.Upstream, opts upstream.Options) (*Client, error) {
	cfg := u.GetCluster()
	if cfg == nil {
		return nil, errors.New("not a redis_cluster upstream")
	}
	if len(cfg.GetSeeds()) == 0 {
		return nil, errors.New("redis_cluster has no seeds")
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		name:   u.GetName(),
		u:      u,
		cfg:    cfg,
		opts:   opts.WithPool(u.GetPool()),
		tls:    u.GetTls().GetEnabled(),
		nodes:  map[nodeKey]*upstream.Node{},
		seeds:  cfg.GetSeeds(),
		next:   make(chan struct{}),
		kick:   make(chan struct{}, 1),
		ctx:    ctx,
		cancel: cancel,
	}
	for _, s := range c.seeds {
		if _, err := c.node(s); err != nil {
			c.Close()
			return nil, fmt.Errorf("cluster seed %s: %w", s, err)
		}
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.refreshLoop()
	}()
	c.kick <- struct{}{}
	return c, nil
}

// NewShared is New as an upstream.ClusterFunc, for Pools.SetCluster.
func NewShared(u *keywayv1.Upstream, opts upstream.Options) (upstream.Shared, error) {
	return New(u, opts)
}

// Name is the name of the upstream the client was created for.
func (c *Client) Name() string { return c.name }

// Serve sends b to the cluster; see View.Serve.
func (c *Client) Serve(ctx context.Context, b engine.Batch) { c.serve(ctx, c.name, b) }

// Named returns the view of c that labels requests and errors with name.
func (c *Client) Named(name string) engine.Upstream { return &View{c: c, name: name} }

// Map returns the slot map in use, nil before the first discovery.
func (c *Client) Map() *Map {
	if t := c.top.Load(); t != nil {
		return t.m
	}
	return nil
}

// nodeKey is a node's address and the role the client uses it in. A
// replica's connections carry READONLY from the moment they open, and a
// primary's never do: a primary demoted behind the client's back then
// answers MOVED instead of serving possibly stale reads, and a change of
// role swaps the Node at the next install.
type nodeKey struct {
	addr    string
	replica bool
}

// readOnlySetup is what every connection to a replica sends first, so
// that it serves reads of its primary's slots instead of redirecting.
var readOnlySetup = []string{"READONLY"}

// node returns the Node of addr as a primary, opening it on first use.
func (c *Client) node(addr string) (*upstream.Node, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodeLocked(nodeKey{addr: addr})
}

// anyNode returns a Node of addr in whatever role the client has one,
// for commands that any connection answers (CLUSTER SHARDS), so asking a
// replica does not open primary connections to it.
func (c *Client) anyNode(addr string) (*upstream.Node, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.nodes[nodeKey{addr: addr, replica: true}]; ok {
		return n, nil
	}
	return c.nodeLocked(nodeKey{addr: addr})
}

func (c *Client) nodeLocked(k nodeKey) (*upstream.Node, error) {
	if n, ok := c.nodes[k]; ok {
		return n, nil
	}
	if c.closed {
		return nil, errors.New("cluster client is closed")
	}
	var setup [][]string
	if k.replica {
		setup = append(setup, readOnlySetup)
	}
	n, err := upstream.NewNode(c.u, k.addr, c.opts, setup...)
	if err != nil {
		return nil, err
	}
	c.nodes[k] = n
	return n, nil
}

// install makes m the slot map and closes the nodes nothing refers to
// any more, including a node's Node for a role it no longer has (seeds
// are kept: they are how the client finds the cluster again). Requests that loaded the old topology and reach a closed node
// get ErrClosed, which is retried on the new one.
func (c *Client) install(m *Map) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.installLocked(m)
}

func (c *Client) installLocked(m *Map) error {
	if c.closed {
		return errors.New("cluster client is closed")
	}
	t := &topology{m: m, primaries: make([]*upstream.Node, len(m.Shards)), replicas: make([][]*upstream.Node, len(m.Shards)), replaced: make(chan struct{})}
	used := map[nodeKey]bool{}
	for _, s := range c.seeds {
		used[nodeKey{addr: s}] = true
	}
	for i, s := range m.Shards {
		k := nodeKey{addr: s.Primary}
		n, err := c.nodeLocked(k)
		if err != nil {
			return err
		}
		t.primaries[i] = n
		used[k] = true
		for _, r := range s.Replicas {
			k := nodeKey{addr: r, replica: true}
			rn, err := c.nodeLocked(k)
			if err != nil {
				return err
			}
			t.replicas[i] = append(t.replicas[i], rn)
			used[k] = true
		}
	}
	if old := c.top.Swap(t); old != nil {
		close(old.replaced)
	}
	for k, n := range c.nodes {
		if used[k] {
			continue
		}
		delete(c.nodes, k)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			n.Close()
		}()
	}
	return nil
}

// Close stops the refresh loop and closes every node once its requests
// are answered. It is safe to call more than once.
func (c *Client) Close() {
	c.cancel()
	c.mu.Lock()
	c.closed = true
	nodes := c.nodes
	c.nodes = map[nodeKey]*upstream.Node{}
	c.mu.Unlock()
	for _, n := range nodes {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			n.Close()
		}()
	}
	c.wg.Wait()
}

// View is a Client labeled with one upstream name. Trees that declare the
// same cluster under different names share the Client and differ only in
// what telemetry and errors call it.
type View struct {
	c    *Client
	name string
}

var _ engine.Upstream = (*View)(nil)

// Name is the upstream's name in the policy.
func (v *View) Name() string { return v.name }

// Client is the shared client behind the view.
func (v *View) Client() *Client { return v.c }

// Serve sends each request of b to the node owning its keys' slot,
// splitting what spans nodes, and answers every request, in place and
// within its deadline, before it returns.
func (v *View) Serve(ctx context.Context, b engine.Batch) { v.c.serve(ctx, v.name, b) }

// Dedicated returns a connection of its own to a primary, for a
// stateful command without a key (SUBSCRIBE, PSUBSCRIBE, MULTI before
// any keyed command).
func (v *View) Dedicated(ctx context.Context) (*upstream.Dedicated, error) {
	return v.DedicatedFor(ctx, nil)
}

// DedicatedFor returns a connection of its own to the primary owning
// key's slot, for commands that carry state (WATCH, MULTI/EXEC, blocking
// pops, SSUBSCRIBE); a nil key takes the primaries in turn, which spreads
// subscribers over the cluster: every node hears every PUBLISH, since
// the cluster broadcasts it.
func (v *View) DedicatedFor(ctx context.Context, key []byte) (*upstream.Dedicated, error) {
	t, err := v.c.topology(ctx)
	if err != nil {
		return nil, err
	}
	i := int(v.c.rr.Add(1) % uint32(len(t.primaries)))
	if key != nil {
		if i = t.m.Owner(Slot(key)); i < 0 {
			return nil, fmt.Errorf("CLUSTERDOWN keyway: upstream %s: no node serves slot %d", v.name, Slot(key))
		}
	}
	return t.primaries[i].Dedicated(ctx, v.name)
}
