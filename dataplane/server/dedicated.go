package server

import (
	"fmt"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/server/dedicated"
	"keyway.dev/dataplane/server/push"
	"keyway.dev/dataplane/upstream"
)

// pin is the state one client keeps on a dedicated upstream connection
// for as long as it lives: a transaction, watched keys, one blocking
// command, or subscriptions. The connection itself is opened lazily by
// the tree's leaf (pinforward.go), so it lands on the upstream, and for a
// cluster the node, where the first command that needs it is routed.
type pin struct {
	c  *client
	d  *upstream.Dedicated // nil until a leaf opens it
	up string              // the upstream d belongs to
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
	// publishes the connection it waits on (client.blockedOn).
	blocking bool

	// sub relays pushed messages while the client is subscribed
	// (pubsub.go); fan, on a cluster, the other nodes' notifications
	// (push.Fanout).
	sub *push.Relay
	fan *push.Fanout
	one [1]*engine.Request
}

// busy reports whether the client keeps state on the pin between
// commands.
func (p *pin) busy() bool { return p.multi || p.watch }

// pinnedLocal are the commands the proxy keeps answering itself at once
// while a client is pinned, even inside a transaction.
func pinnedLocal(l *local) bool {
	return l != nil && (l.name == "quit" || l.name == "reset")
}

// servePinned serves a command that needs or holds connection state:
// transaction commands are kept by the proxy, everything else goes
// through the tree with the client's pin on the request, so the policy
// applies and only the leaf's last hop changes. It returns false when the
// client must be closed.
func (c *client) servePinned(st *engine.State, r *engine.Request) bool {
	if c.serveAdmin(st, r) { // rawrelay.go
		return !c.dead
	}
	cmd := &r.Cmd
	if c.pin != nil && c.pin.sub != nil {
		return c.serveSubscribed(st, r)
	}
	if c.pin == nil && c.unauthenticated(st) {
		c.writeError(errNoAuth.Error())
		return true
	}
	if push.IsSubscribe(cmd.Spec) && (c.pin == nil || !c.pin.multi) {
		return c.subscribe(st, r)
	}
	if push.IsSubscribe(cmd.Spec) {
		// Redis would subscribe the connection when EXEC runs, and the
		// messages would then need a relay that no reply in the EXEC
		// array starts; rather than lose them silently, the command is
		// refused and the transaction aborted, as Redis aborts one with a
		// command it refused while queueing.
		c.pin.dirty = true
		c.writeError("ERR keyway: " + cmd.Spec.Name + " inside MULTI is not supported by the proxy; subscribe outside the transaction")
		return true
	}
	if c.pin == nil {
		switch {
		case cmd.Spec.Has(resp.FlagPubSub):
			c.unsubscribeIdle(cmd)
			return true
		case cmd.Spec.Name == "EXEC", cmd.Spec.Name == "DISCARD":
			c.writeError("ERR " + cmd.Spec.Name + " without MULTI")
			return true
		case cmd.Spec.Name == "UNWATCH":
			c.write(okReply) // nothing is watched without a pin
			return true
		}
		c.pin = &pin{c: c}
	}
	switch cmd.Spec.Name {
	case "MULTI":
		c.multi()
	case "EXEC":
		c.exec(st)
	case "DISCARD":
		c.discard()
	case "UNWATCH":
		c.unwatch()
	default:
		c.forwardPinned(st, r)
	}
	c.settle()
	return true
}

// forwardPinned serves r through the tree with the client's pin and
// answers it as Redis would: inside a transaction, a command Redis
// queued is +QUEUED, one the proxy or the policy refused marks the
// transaction dirty, and one an engine answered itself is queued with
// that answer for EXEC.
func (c *client) forwardPinned(st *engine.State, r *engine.Request) {
	p := c.pin
	r.Session = &c.sess
	r.Pin = p
	p.sent, p.queued = false, false
	p.one[0] = r
	blocking := !p.multi && resp.IsBlocking(&r.Cmd)
	if blocking {
		c.srv.blocked.Add(1)
	}
	p.blocking = blocking
	c.serveRun(st, p.one[:])
	p.blocking = false
	if blocking {
		c.srv.blocked.Add(-1)
		c.blockedOn.Store(nil)
	}
	p.one[0] = nil
	if !r.Done() {
		r.Fail(engine.KindProxy, errUnanswered)
	}
	reply := r.Raw()
	switch {
	case p.multi && p.queued:
		p.txn = append(p.txn, queued{args: cloneArgs(r.Cmd.Args)})
		c.write(queuedReply)
	case p.multi && !p.sent && resp.IsError(reply):
		p.dirty = true
		c.write(reply)
	case p.multi && !p.sent:
		p.txn = append(p.txn, queued{local: append([]byte(nil), reply...)})
		c.write(queuedReply)
	default:
		c.write(reply)
		if r.Cmd.Spec.Name == "WATCH" && !p.multi && p.sent && !resp.IsError(reply) {
			p.watch, p.watchLost = true, false
		}
	}
	r.Cmd.Args = r.Cmd.Args[:0] // keep no reference to the read buffer
}

// settle gives the connection back once the client keeps no state on it.
func (c *client) settle() {
	p := c.pin
	if p == nil || p.sub != nil || p.busy() {
		return
	}
	if p.d != nil {
		p.d.Release()
	}
	c.pin = nil
}

// openDedicated finds the upstream the tree would send cmd to and takes a
// connection of its own there; pub/sub uses it, since a subscribed
// client's commands are answered by Redis on the relay, not by the tree.
// It returns the upstream too.
func (c *client) openDedicated(st *engine.State, cmd *resp.Command) (*upstream.Dedicated, engine.Upstream, error) {
	if st == nil {
		return nil, nil, errNoPolicy
	}
	tree := c.treeOf(st)
	if tree == nil {
		return nil, nil, fmt.Errorf("keyway: workload domain %q has no policy", c.sess.Domain)
	}
	r := &engine.Request{Cmd: *cmd, Session: &c.sess}
	up, err := dedicated.UpstreamFor(tree.Root, r)
	if err != nil {
		return nil, nil, err
	}
	d, err := dedicated.Open(c.srv.ctx, up, cmd, c.proto(), c.loginArgs())
	return d, up, err
}

// dropPin closes a dedicated connection whose state is unknown.
func (c *client) dropPin() {
	if c.pin != nil && c.pin.sub != nil {
		c.endSubscription()
		return
	}
	if c.pin != nil {
		if c.pin.d != nil {
			c.pin.d.Close()
		}
		c.pin = nil
	}
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

// openDedicatedOnly is openDedicated for callers that need only the
// connection.
func (c *client) openDedicatedOnly(st *engine.State, cmd *resp.Command) (*upstream.Dedicated, error) {
	d, _, err := c.openDedicated(st, cmd)
	return d, err
}
