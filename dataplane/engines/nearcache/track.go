package nearcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/upstream"
)

// Invalidation comes from Redis itself: one RESP3 connection per primary
// with CLIENT TRACKING ON BCAST PREFIX <the cached prefixes>. BCAST rather
// than the default mode with REDIRECT because the default mode remembers
// keys per reading connection: every shared pool connection would have to
// run tracking (making Redis track every key any client reads through it)
// and a pool connection's reconnect would silently drop what it tracked.
// BCAST ties invalidation to this one connection per node, whatever
// connection a read took, so a gap in the stream is a gap on a connection
// the tracker watches. Its cost is that Redis reports every write under
// the prefixes, cached or not, which is why the policy names prefixes.

// keepalive is how often each tracking connection is pinged; a ping
// unanswered at the next tick is a gap, so a node that went silent (a
// partition, a paused process) stops the cache within two ticks. Tests
// that pause Redis on purpose lengthen it before building.
var keepalive = time.Second

// setupTimeout bounds opening one tracking connection.
const setupTimeout = 5 * time.Second

// nodeSource lists the primaries to track and a channel closed when the
// list may have changed (nil: never).
type nodeSource func(ctx context.Context) ([]*upstream.Node, <-chan struct{}, error)

// sourceOf finds how to list up's primaries: a cluster view watches its
// topology, a standalone client has one node. Anything else cannot track,
// and the engine then caches nothing.
func sourceOf(up engine.Upstream) nodeSource {
	switch u := up.(type) {
	case interface {
		Watch(context.Context) ([]*upstream.Node, <-chan struct{}, error)
	}:
		return u.Watch
	case interface{ Node() *upstream.Node }:
		return func(context.Context) ([]*upstream.Node, <-chan struct{}, error) {
			return []*upstream.Node{u.Node()}, nil, nil
		}
	}
	return nil
}

// tracker keeps the tracking connections and turns their pushes into
// store invalidations, and any break into a gap.
type tracker struct {
	name  string
	src   nodeSource
	args  [][]byte
	st    *store
	stats *stats
	log   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	every  time.Duration // keepalive

	mu    sync.Mutex
	conns []*tconn
}

// tconn is one primary's tracking connection.
type tconn struct {
	t      *tracker
	node   *upstream.Node
	d      *upstream.Dedicated
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	dead   chan struct{}
	once   sync.Once
	// lost is shared by the connections of one round; the first to die
	// closes it.
	lost *lostSignal

	smu     sync.Mutex
	waiters []chan struct{} // one per PING sent, oldest first; nil for keepalives
	pending bool            // a keepalive is unanswered
}

type lostSignal struct {
	ch   chan struct{}
	once sync.Once
}

func (l *lostSignal) fire() { l.once.Do(func() { close(l.ch) }) }

func trackingArgs(prefixes []string) [][]byte {
	args := [][]byte{[]byte("CLIENT"), []byte("TRACKING"), []byte("ON"), []byte("BCAST")}
	for _, p := range prefixes {
		args = append(args, []byte("PREFIX"), []byte(p))
	}
	return args
}

func newTracker(name string, src nodeSource, prefixes []string, st *store, stats *stats, log *slog.Logger) *tracker {
	ctx, cancel := context.WithCancel(context.Background())
	t := &tracker{name: name, src: src, args: trackingArgs(prefixes), st: st, stats: stats, log: log, ctx: ctx, cancel: cancel, done: make(chan struct{}), every: keepalive}
	if src == nil {
		close(t.done)
		return t
	}
	go t.run()
	return t
}

// close stops tracking; the store is left not live.
func (t *tracker) close() {
	t.cancel()
	<-t.done
	t.st.gap()
}

// run keeps every primary tracked: it opens a connection per primary,
// declares the store live once all of them are on, and on any gap (a
// connection lost, a keepalive unanswered, a new primary) flushes the
// store and starts over.
func (t *tracker) run() {
	defer close(t.done)
	for attempt := 0; ; attempt++ {
		if t.ctx.Err() != nil {
			return
		}
		nodes, changed, err := t.src(t.ctx)
		var conns []*tconn
		lost := &lostSignal{ch: make(chan struct{})}
		if err == nil {
			conns, err = t.connectAll(nodes, lost)
		}
		if err != nil {
			if t.ctx.Err() != nil {
				return
			}
			t.stats.trackErrors.Add(1)
			t.log.Warn("near cache: cannot track invalidations; serving from redis", "upstream", t.name, "err", err)
			select {
			case <-time.After(retryDelay(attempt)):
			case <-t.ctx.Done():
				return
			}
			continue
		}
		attempt = -1
		t.mu.Lock()
		t.conns = conns
		t.mu.Unlock()
		t.st.live.Store(true)
		t.stats.tracked.Add(1)
		why := t.watch(conns, nodes, changed, lost)
		t.st.gap()
		t.mu.Lock()
		t.conns = nil
		t.mu.Unlock()
		for _, c := range conns {
			c.close()
		}
		if t.ctx.Err() == nil {
			t.stats.gaps.Add(1)
			t.log.Info("near cache: gap in the invalidation stream; cache flushed", "upstream", t.name, "reason", why)
		}
	}
}

func retryDelay(attempt int) time.Duration {
	d := 50 * time.Millisecond << min(attempt, 5)
	return min(d, time.Second)
}

// watch blocks until the current round must end and says why.
func (t *tracker) watch(conns []*tconn, nodes []*upstream.Node, changed <-chan struct{}, lost *lostSignal) string {
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		select {
		case <-t.ctx.Done():
			return "closed"
		case <-lost.ch:
			return "tracking connection lost"
		case <-changed:
			now, next, err := t.src(t.ctx)
			if err != nil {
				return "topology unknown: " + err.Error()
			}
			if !sameNodes(now, nodes) {
				return "primaries changed"
			}
			changed = next
		case <-tick.C:
			for _, c := range conns {
				if !c.keepalive() {
					return "keepalive unanswered on " + c.node.Addr()
				}
			}
		}
	}
}

func sameNodes(a, b []*upstream.Node) bool {
	if len(a) != len(b) {
		return false
	}
	seen := make(map[*upstream.Node]bool, len(a))
	for _, n := range a {
		seen[n] = true
	}
	for _, n := range b {
		if !seen[n] {
			return false
		}
	}
	return true
}

// connectAll opens a tracking connection on every node, or none.
func (t *tracker) connectAll(nodes []*upstream.Node, lost *lostSignal) ([]*tconn, error) {
	if len(nodes) == 0 {
		return nil, errors.New("no primary to track")
	}
	var conns []*tconn
	for _, n := range nodes {
		c, err := t.connect(n, lost)
		if err != nil {
			for _, c := range conns {
				c.close()
			}
			return nil, err
		}
		conns = append(conns, c)
	}
	return conns, nil
}

func (t *tracker) connect(n *upstream.Node, lost *lostSignal) (*tconn, error) {
	ctx, cancel := context.WithTimeout(t.ctx, setupTimeout)
	defer cancel()
	d, err := n.Dedicated(ctx, t.name)
	if err != nil {
		return nil, fmt.Errorf("tracking connection to %s: %w", n.Addr(), err)
	}
	if err := d.Protocol(ctx, 3); err != nil {
		d.Close()
		return nil, fmt.Errorf("tracking connection to %s: %w", n.Addr(), err)
	}
	if err := d.Send(t.args); err != nil {
		d.Close()
		return nil, fmt.Errorf("tracking connection to %s: %w", n.Addr(), err)
	}
	reply, err := d.Next(ctx)
	if err == nil && !bytes.Equal(reply, []byte("+OK\r\n")) {
		err = fmt.Errorf("CLIENT TRACKING answered %q", bytes.TrimSpace(reply))
	}
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("tracking connection to %s: %w", n.Addr(), err)
	}
	c := &tconn{t: t, node: n, d: d, dead: make(chan struct{}), lost: lost}
	c.ctx, c.cancel = context.WithCancel(t.ctx)
	c.wg.Add(1)
	go c.read()
	return c, nil
}

// read applies the pushes of one tracking connection and answers the
// pings' waiters; it ends the round on any error.
func (c *tconn) read() {
	defer c.wg.Done()
	defer c.fail()
	st := c.t.st
	for {
		frame, err := c.d.Next(c.ctx)
		if err != nil {
			return
		}
		if frame[0] == '>' {
			isInv, flushAll, err := parseInvalidate(frame, st.invalidate)
			if err != nil {
				c.t.log.Warn("near cache: unreadable push from redis", "upstream", c.t.name, "addr", c.node.Addr(), "err", err)
				return
			}
			if isInv {
				c.t.stats.messages.Add(1)
				if flushAll {
					st.flush()
				}
			}
			continue
		}
		c.smu.Lock()
		var w chan struct{}
		if len(c.waiters) > 0 {
			w = c.waiters[0]
			c.waiters = c.waiters[1:]
		}
		if w == nil {
			c.pending = false
		}
		c.smu.Unlock()
		if w != nil {
			close(w)
		}
	}
}

var pingArgs = [][]byte{[]byte("PING")}

// ping sends a PING and queues w for its reply.
func (c *tconn) ping(w chan struct{}) error {
	c.smu.Lock()
	defer c.smu.Unlock()
	if err := c.d.Send(pingArgs); err != nil {
		return err
	}
	c.waiters = append(c.waiters, w)
	return nil
}

// keepalive reports whether the previous keepalive was answered and
// sends the next.
func (c *tconn) keepalive() bool {
	c.smu.Lock()
	pending := c.pending
	c.pending = true
	c.smu.Unlock()
	if pending {
		return false
	}
	return c.ping(nil) == nil
}

func (c *tconn) fail() {
	c.once.Do(func() { close(c.dead) })
	c.lost.fire()
}

func (c *tconn) close() {
	c.cancel()
	c.wg.Wait()
	c.fail()
	c.d.Close() // tracking stays on it; never hand it back to the pool
}

// errNotLive is Sync's answer while the stream has a gap.
var errNotLive = errors.New("near cache: not tracking invalidations")

// sync returns once every invalidation Redis emitted before the call has
// been applied: it sends a PING on each tracking connection and waits for
// the replies, which Redis queues behind the pushes already emitted.
func (t *tracker) sync(ctx context.Context) error {
	t.mu.Lock()
	conns := t.conns
	t.mu.Unlock()
	if len(conns) == 0 {
		return errNotLive
	}
	ws := make([]chan struct{}, len(conns))
	for i, c := range conns {
		ws[i] = make(chan struct{})
		if err := c.ping(ws[i]); err != nil {
			return err
		}
	}
	for i, c := range conns {
		select {
		case <-ws[i]:
		case <-c.dead:
			return errNotLive
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
