package upstream

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/proto/backoff"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Node is one Redis server as the proxy sees it: a small fixed set of
// multiplexed, pipelined connections shared by every caller, a bounded
// pool of dedicated connections, and a circuit breaker. A standalone
// Client has one Node; a cluster client keeps one per cluster node.
//
// Every request handed to Serve is answered exactly once, within its
// deadline, whatever the node does: a slow or dead node costs its own
// callers their timeout and nobody else anything.
type Node struct {
	addr    string
	opts    Options
	dialer  *dialer
	breaker *breaker
	conns   []*conn // RESP2
	// conns3 are the RESP3 connections, started by the first RESP3
	// client: replies pass through byte for byte, so a RESP3 client
	// needs connections that ran HELLO 3, and a fleet of RESP2 clients
	// never pays for them.
	conns3 atomic.Pointer[[]*conn]
	mu3    sync.Mutex
	next   atomic.Uint32
	ded    dedicatedPool
	big    bigSeen // sizes deadlines allow for (transfer.go)

	ctx    context.Context // canceled by Close, aborts dials
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

// NewNode starts connecting to addr with the TLS and credentials of u;
// opts should already hold u's pool settings (Options.WithPool). It fails
// only for configuration that can never work (a missing secret, an
// unreadable CA bundle); Redis being down is a state, not an error.
//
// onConnect are commands, each a word list, sent on every new connection
// right after AUTH, and again on a dedicated connection after the RESET
// that returns it to the pool, since RESET undoes them; each must succeed
// or the connection counts as failed. A cluster client sends READONLY
// this way to replicas, so that no batch has to carry it.
func NewNode(u *keywayv1.Upstream, addr string, opts Options, onConnect ...[]string) (*Node, error) {
	opts = opts.withDefaults()
	d, err := newDialer(u, opts)
	if err != nil {
		return nil, err
	}
	if err := d.setOnConnect(onConnect); err != nil {
		return nil, err
	}
	return newNode(addr, d, opts), nil
}

func newNode(addr string, d *dialer, opts Options) *Node {
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		addr:    addr,
		opts:    opts,
		dialer:  d,
		breaker: newBreaker(opts.BreakerThreshold, opts.BreakerCooldown),
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
	}
	n.ded.init(n)
	n.conns = make([]*conn, opts.Connections)
	for i := range n.conns {
		n.conns[i] = newConn(n, 2)
	}
	n.wg.Add(len(n.conns))
	for _, c := range n.conns {
		go func() {
			defer n.wg.Done()
			c.run()
		}()
	}
	return n
}

// Addr is the node's host:port.
func (n *Node) Addr() string { return n.addr }

// Serve sends b to the node on one shared connection, in order, and
// returns when every request is answered. name labels errors ("upstream
// main (10.0.0.1:6379) ..."). Commands that would leave state on a shared
// connection are refused; they belong on a Dedicated connection.
func (n *Node) Serve(ctx context.Context, name string, b engine.Batch) {
	if len(b) == 0 {
		return
	}
	if bad := firstStateful(b); bad >= 0 {
		b = n.refuseStateful(ctx, name, b, bad)
		if len(b) == 0 {
			return
		}
	}
	timeout := n.opts.Timeout
	size := encodedSize(b)
	now := time.Now()
	n.big.note(int64(size), now)
	if allow := max(int64(size), n.big.recent(now)); allow >= bigReply {
		timeout += transferTime(allow, n.opts.MinBandwidth)
	}
	// The budget runs from when the proxy read the batch's oldest
	// request, not from now: a pipeline served in several batches, or a
	// batch that waited behind another, gets no fresh budget.
	deadline := readAt(b, now).Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
		timeout = time.Until(d).Round(time.Millisecond)
	}
	c := newCall(b, name, n.addr, deadline, timeout)
	c.size = size
	if !now.Before(deadline) {
		// Spent before it was sent (say, waiting behind a batch a stalled
		// node never answered): fail it rather than add to the node's queue.
		c.expire(ErrTimeout, nil)
		<-c.done
		for range b {
			c.release() // the references of items never queued
		}
	} else {
		c.wait(ctx, n.pick(n.pool(b[0].Session.RESP3())).enqueue(c))
	}
	c.release()
}

// readAt is when the proxy read the oldest request of b, or now when no
// request says.
func readAt(b engine.Batch, now time.Time) time.Time {
	at := now
	for _, r := range b {
		if !r.Read.IsZero() && r.Read.Before(at) {
			at = r.Read
		}
	}
	return at
}

// pick chooses a connection: the first idle one that is up, from a
// round-robin start; else the up one with the fewest requests waiting;
// else one connecting; else a down one, which fails fast with the
// reason. Preferring the least loaded keeps callers off a connection
// stuck behind a slow command (a script running for seconds, a huge
// KEYS): Redis answers them on another connection at once (BUSY, or the
// reply), as it would answer a client of its own. The breaker acts
// through the slots: while it is open they are down, so requests fail
// fast without a check here.
func (n *Node) pick(conns []*conn) *conn {
	start := int(n.next.Add(1))
	var connecting, least *conn
	var leastPending int32
	for k := range conns {
		c := conns[(start+k)%len(conns)]
		switch connState(c.state.Load()) {
		case stateUp:
			p := c.pending.Load()
			if p == 0 {
				return c
			}
			if least == nil || p < leastPending {
				least, leastPending = c, p
			}
		case stateConnecting:
			if connecting == nil {
				connecting = c
			}
		}
	}
	if least != nil {
		return least
	}
	if connecting != nil {
		return connecting
	}
	return conns[start%len(conns)]
}

// pool returns the shared connections of a protocol, starting the RESP3
// ones on first use.
func (n *Node) pool(resp3 bool) []*conn {
	if !resp3 {
		return n.conns
	}
	if p := n.conns3.Load(); p != nil {
		return *p
	}
	n.mu3.Lock()
	defer n.mu3.Unlock()
	if p := n.conns3.Load(); p != nil {
		return *p
	}
	select {
	case <-n.done:
		return n.conns // closed: these fail every request with the reason
	default:
	}
	conns := make([]*conn, len(n.conns))
	for i := range conns {
		conns[i] = newConn(n, 3)
	}
	n.wg.Add(len(conns))
	for _, c := range conns {
		go func() {
			defer n.wg.Done()
			c.run()
		}()
	}
	n.conns3.Store(&conns)
	return conns
}

// shared returns every shared connection started so far.
func (n *Node) shared() []*conn {
	if p := n.conns3.Load(); p != nil {
		return append(append([]*conn(nil), n.conns...), *p...)
	}
	return n.conns
}

// firstStateful returns the index of the first request that needs a
// dedicated connection, or -1.
func firstStateful(b engine.Batch) int {
	for i, r := range b {
		if resp.NeedsDedicated(&r.Cmd) {
			return i
		}
	}
	return -1
}

// refuseStateful fails the stateful requests of b and returns the rest.
// It allocates, but only on this rare path.
func (n *Node) refuseStateful(_ context.Context, name string, b engine.Batch, from int) engine.Batch {
	rest := append(engine.Batch{}, b[:from]...)
	for _, r := range b[from:] {
		if s := r.Cmd.Spec; resp.NeedsDedicated(&r.Cmd) {
			r.Fail(engine.KindRefused, &Error{What: ErrNeedsDedicated, Upstream: name, Addr: n.addr, Command: s.Name})
			continue
		}
		rest = append(rest, r)
	}
	return rest
}

// Close stops the node: new requests fail, requests in flight get up to
// one timeout to be answered, then connections close. It waits for the
// node's goroutines and is safe to call more than once.
func (n *Node) Close() {
	n.once.Do(func() {
		n.mu3.Lock() // no RESP3 pool starts after this
		close(n.done)
		n.mu3.Unlock()
		n.cancel()
		n.wg.Wait()
		n.ded.close()
	})
}

// sleep waits for d, a change of the breaker, or Close.
func (n *Node) sleep(d time.Duration, changed <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-changed:
	case <-n.done:
	}
}

// reconnectDelay is the wait before the attempt-th reconnect (from 1),
// jittered so a fleet of proxies does not reconnect in step after a
// Redis restart.
func reconnectDelay(attempt int, lo, hi time.Duration) time.Duration {
	return backoff.Exponential{Min: lo, Max: hi, Jitter: true}.Delay(attempt - 1)
}

// String identifies the node in logs.
func (n *Node) String() string { return fmt.Sprintf("node %s", n.addr) }
