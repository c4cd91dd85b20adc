// Package pin keeps what one client holds on an upstream connection of
// its own for as long as it lasts: a transaction (MULTI to EXEC or
// DISCARD), watched keys, one blocking command, or the connection its
// subscriptions live on. The connection is opened lazily by the tree's
// leaf (Pin is the request's engine.Pin), so it lands on the upstream,
// and for a cluster the node, where the first command that needs it is
// routed; every command on it still goes through the tree, so the policy
// applies and only the leaf's last hop changes.
//
// The frontend hands a Pin the few things of its connection it needs
// (Client) and asks it to serve; engines see only engine.Pin, and a
// transaction's results reach them as a replay (engine.Replay), never as
// transaction state.
package pin

import (
	"context"
	"fmt"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/dedicated"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/upstream"
)

// Client is the client connection a Pin belongs to, as the pin sees it.
// Its methods run on the connection's goroutine.
type Client interface {
	// Write sends raw to the client as the next reply.
	Write(raw []byte)
	// WriteError sends msg as an error reply.
	WriteError(msg string)
	// Open takes a connection of the client's own on up for cmd, in the
	// client's protocol and logged in as the client (dedicated.Open).
	Open(up engine.Upstream, cmd *resp.Command) (*upstream.Dedicated, error)
	// Blocked publishes the connection a blocking command of the client
	// waits on, for CLIENT UNBLOCK from other clients.
	Blocked(b *upstream.Blocked)
}

var _ engine.Pin = (*Pin)(nil)

var (
	// waitMarkArgs is a PUBLISH, which a standalone Redis propagates to
	// its replicas whether or not anyone listens.
	waitMarkArgs = [][]byte{[]byte("PUBLISH"), []byte("__keyway:wait"), []byte("")}
	multiArgs    = [][]byte{[]byte("MULTI")}
	queuedReply  = []byte("+QUEUED\r\n")
	okReply      = []byte("+OK\r\n")
)

// Pin is the state of one client's own upstream connection.
type Pin struct {
	c Client
	// ctx bounds waits on d: the server's, not a request's, since a
	// blocking command waits as long as Redis lets it and a wait cut
	// short would leave a reply behind on the connection.
	ctx context.Context
	d   *upstream.Dedicated // nil until a leaf opens it
	up  string              // the upstream d belongs to
	// cluster is set when d is one node of a cluster upstream, whose
	// redirections mean a key of another node.
	cluster bool

	// multi is set from the client's MULTI to its EXEC or DISCARD;
	// sentMulti once MULTI is queued on d (MULTI is deferred to the
	// first command, so the transaction runs where that command goes).
	multi, sentMulti bool
	// dirty records a command refused while queueing (by the proxy or
	// the policy), after which EXEC aborts, as Redis does.
	dirty bool
	// txn is the transaction's queue as the client sees it.
	txn   []queued
	watch bool
	// watchLost is set when the connection holding watched keys broke:
	// the next EXEC cannot know whether they changed, so it fails.
	watchLost bool

	// sent and queued report what Forward did with the request being
	// served: it reached Redis, and Redis queued it.
	sent, queued bool
	// replay, while set, is the reply Forward answers with instead of
	// sending, so EXEC's results pass back up through the tree
	// (transaction.go); replayed reports that a leaf took it.
	replay   []byte
	replayed bool

	// blocking is set while a blocking command is served, so Forward
	// publishes the connection it waits on (Client.Blocked).
	blocking bool
	one      [1]*engine.Request
}

// New returns a pin of c with no connection yet; ctx bounds every wait
// on the connection once it is open.
func New(ctx context.Context, c Client) *Pin {
	return &Pin{c: c, ctx: ctx}
}

// Conn is the pinned connection, nil while none is open (or after it
// broke).
func (p *Pin) Conn() *upstream.Dedicated { return p.d }

// Adopt makes d, opened by the caller, the pinned connection: pub/sub
// subscribes on a connection it opens itself when the pin has none.
func (p *Pin) Adopt(d *upstream.Dedicated) { p.d = d }

// Busy reports whether the client keeps state on the pin between
// commands: a transaction or watched keys.
func (p *Pin) Busy() bool { return p.multi || p.watch }

// InMulti reports whether a transaction is open; a nil Pin has none.
func (p *Pin) InMulti() bool { return p != nil && p.multi }

// Release gives the connection back to its pool, for a pin the client
// no longer needs: its state on Redis is known to be none.
func (p *Pin) Release() {
	if p.d != nil {
		p.d.Release()
		p.d = nil
	}
}

// Close closes the connection, for a pin whose state on Redis is
// unknown: it must not leak to the next client.
func (p *Pin) Close() {
	if p.d != nil {
		p.d.Close()
		p.d = nil
	}
}

// Serve serves r through the tree with serve and the pin as its last
// hop, and answers it as Redis would: inside a transaction, a command
// Redis queued is +QUEUED, one the proxy or the policy refused marks the
// transaction dirty, and one an engine answered itself is queued with
// that answer for EXEC. blocking says r is a blocking command outside a
// transaction, whose connection Forward publishes while it waits.
func (p *Pin) Serve(r *engine.Request, blocking bool, serve func(engine.Batch)) {
	r.Pin = p
	p.sent, p.queued = false, false
	p.one[0] = r
	p.blocking = blocking
	serve(p.one[:])
	p.blocking = false
	p.one[0] = nil
	reply := r.Raw()
	switch {
	case p.multi && p.queued:
		p.txn = append(p.txn, queued{args: cloneArgs(r.Cmd.Args)})
		p.c.Write(queuedReply)
	case p.multi && !p.sent && resp.IsError(reply):
		p.dirty = true
		p.c.Write(reply)
	case p.multi && !p.sent:
		p.txn = append(p.txn, queued{local: append([]byte(nil), reply...)})
		p.c.Write(queuedReply)
	default:
		p.c.Write(reply)
		if r.Cmd.Spec.Name == "WATCH" && !p.multi && p.sent && !resp.IsError(reply) {
			p.watch, p.watchLost = true, false
		}
	}
}

// Forward is the last hop of a pinned client's request: the leaf of up
// hands it here instead of to up's shared pool. The first request opens
// the connection on up (and a deferred MULTI goes with it); later ones
// must reach the same upstream, or they would run outside the
// transaction. Replies are awaited on the pin's context, not the tree's
// (see Pin.ctx).
func (p *Pin) Forward(_ context.Context, up engine.Upstream, b engine.Batch) {
	if p.replay != nil {
		for _, r := range b {
			r.Reply(p.replay)
		}
		p.replayed = true
		return
	}
	if p.d == nil {
		if err := p.open(up, b[0]); err != nil {
			for _, r := range b {
				r.Fail(engine.KindUpstream, err)
			}
			return
		}
	} else if up.Name() != p.up {
		for _, r := range b {
			r.Fail(engine.KindRefused, fmt.Errorf("CROSSSLOT keyway: %s routes to upstream %q but this transaction runs on %q",
				r.Cmd.Spec.Name, up.Name(), p.up))
		}
		return
	}
	cmds := make([][][]byte, 0, len(b)+1)
	deferred := p.multi && !p.sentMulti
	if deferred {
		cmds = append(cmds, multiArgs)
	}
	// WAIT counts the replicas that acknowledged the writes of the
	// connection it runs on, and the client's writes went over shared
	// connections: a write that Redis propagates goes first, so WAIT
	// waits for the replication offset of the moment it is served, which
	// covers every write the client had acknowledged before it.
	marked := !p.multi && !p.cluster && len(b) == 1 && b[0].Cmd.Spec.Name == "WAIT"
	if marked {
		cmds = append(cmds, waitMarkArgs)
	}
	for _, r := range b {
		cmds = append(cmds, r.Cmd.Args)
	}
	if p.blocking {
		p.c.Blocked(p.d.Blocked())
	}
	if err := p.d.Send(cmds...); err != nil {
		p.lost(b, err)
		return
	}
	if marked {
		if _, err := p.d.Next(p.ctx); err != nil {
			p.lost(b, err)
			return
		}
	}
	if deferred {
		reply, err := p.d.Next(p.ctx)
		if err != nil {
			p.lost(b, err)
			return
		}
		if resp.IsError(reply) {
			// Nothing after a refused MULTI can be a transaction.
			p.lost(b, fmt.Errorf("keyway: MULTI refused by %s: %s", p.up, resp.LineText(reply)))
			return
		}
		p.sentMulti = true
	}
	for i, r := range b {
		reply, err := p.d.Next(p.ctx)
		if err != nil {
			p.lost(b[i:], err)
			return
		}
		p.sent = true
		if p.cluster && resp.IsRedirect(reply) {
			r.Fail(engine.KindRefused, dedicated.CrossNode(r, p.up))
			continue
		}
		r.Reply(reply)
		if p.multi && string(reply) == string(queuedReply) {
			p.queued = true
		}
	}
}

// open takes a connection on up for r, the first request that needs one.
func (p *Pin) open(up engine.Upstream, r *engine.Request) error {
	d, err := p.c.Open(up, &r.Cmd)
	if err != nil {
		return err
	}
	p.cluster = dedicated.IsCluster(up)
	p.d, p.up = d, up.Name()
	return nil
}

// lost fails what remains of b after the connection broke and forgets
// the connection. A transaction on it is gone, so EXEC will abort; watched
// keys are gone, so EXEC will fail as if they had changed. A later command
// opens a new connection.
func (p *Pin) lost(b engine.Batch, err error) {
	for _, r := range b {
		r.Fail(engine.KindUpstream, err)
	}
	p.d.Close()
	p.d = nil
	p.sentMulti = false
	p.dirty = p.dirty || p.multi
	p.watchLost = p.watchLost || p.watch
}

// cloneArgs copies args out of the client's read buffer, which the next
// read reuses.
func cloneArgs(args [][]byte) [][]byte {
	n := 0
	for _, a := range args {
		n += len(a)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(args))
	for i, a := range args {
		buf = append(buf, a...)
		out[i] = buf[len(buf)-len(a) : len(buf) : len(buf)]
	}
	return out
}
