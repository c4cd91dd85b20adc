package server

import (
	"fmt"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/server/answer"
	"keyway.dev/dataplane/server/dedicated"
	"keyway.dev/dataplane/server/localcmd"
	"keyway.dev/dataplane/server/pin"
	"keyway.dev/dataplane/server/push"
	"keyway.dev/dataplane/upstream"
)

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
	if c.sub != nil {
		return c.serveSubscribed(st, r)
	}
	if c.pin == nil && c.Unauthenticated(st) {
		c.writeError(answer.ErrNoAuth.Error())
		return true
	}
	if push.IsSubscribe(cmd.Spec) && !c.pin.InMulti() {
		return c.subscribe(st, r)
	}
	if push.IsSubscribe(cmd.Spec) {
		// Redis would subscribe the connection when EXEC runs, and the
		// messages would then need a relay that no reply in the EXEC
		// array starts; rather than lose them silently, the command is
		// refused and the transaction aborted, as Redis aborts one with a
		// command it refused while queueing.
		c.pin.Refused()
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
		c.pin = pin.New(c.srv.ctx, c)
	}
	switch cmd.Spec.Name {
	case "MULTI":
		c.pin.Multi()
	case "EXEC":
		var root engine.Engine
		if st != nil {
			if tree := c.treeOf(st); tree != nil {
				root = tree.Root
			}
		}
		c.pin.Exec(root, &c.sess)
	case "DISCARD":
		c.pin.Discard()
	case "UNWATCH":
		c.pin.Unwatch()
	default:
		c.forwardPinned(st, r)
	}
	c.settle()
	return true
}

// forwardPinned serves r through the tree with the client's pin as its
// last hop (pin.Pin.Serve), counting a blocking command in INFO's
// blocked_clients while it waits.
func (c *client) forwardPinned(st *engine.State, r *engine.Request) {
	r.Session = &c.sess
	blocking := !c.pin.InMulti() && resp.IsBlocking(&r.Cmd)
	if blocking {
		c.srv.blocked.Add(1)
	}
	c.pin.Serve(r, blocking, func(b engine.Batch) {
		c.serveRun(st, b)
		if !r.Done() {
			r.Fail(engine.KindProxy, errUnanswered)
		}
	})
	if blocking {
		c.srv.blocked.Add(-1)
		c.blockedOn.Store(nil)
	}
	r.Cmd.Args = r.Cmd.Args[:0] // keep no reference to the read buffer
}

// settle gives the connection back once the client keeps no state on it.
func (c *client) settle() {
	p := c.pin
	if p == nil || c.sub != nil || p.Busy() {
		return
	}
	p.Release()
	c.pin = nil
}

// openDedicated finds the upstream the tree would send cmd to and takes a
// connection of its own there; pub/sub uses it, since a subscribed
// client's commands are answered by Redis on the relay, not by the tree.
// It returns the upstream too.
func (c *client) openDedicated(st *engine.State, cmd *resp.Command) (*upstream.Dedicated, engine.Upstream, error) {
	if st == nil {
		return nil, nil, answer.ErrNoPolicy
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
	if c.sub != nil {
		c.endSubscription()
		return
	}
	if c.pin != nil {
		c.pin.Close()
		c.pin = nil
	}
}

// openDedicatedOnly is openDedicated for callers that need only the
// connection.
func (c *client) openDedicatedOnly(st *engine.State, cmd *resp.Command) (*upstream.Dedicated, error) {
	d, _, err := c.openDedicated(st, cmd)
	return d, err
}

// queuesLocal reports whether the connection-local command h is queued in
// the client's transaction rather than answered at once.
func (c *client) queuesLocal(h *localcmd.Command) bool {
	return c.pin.InMulti() && c.sub == nil && !h.Immediate
}

// queueLocal answers a connection-local command inside a transaction the
// way Redis would (pin.Pin.Queue). The proxy computes the answer at once,
// into a buffer instead of the socket.
func (c *client) queueLocal(st *engine.State, h *localcmd.Command, args [][]byte) bool {
	var answer []byte
	c.capture = &answer
	ok := localcmd.Serve(c, st, h, args)
	c.capture = nil
	if ok {
		c.pin.Queue(answer)
	}
	return ok
}

// The client as its pin sees it (pin.Client).

func (c *client) Write(raw []byte)            { c.write(raw) }
func (c *client) WriteError(msg string)       { c.writeError(msg) }
func (c *client) Blocked(b *upstream.Blocked) { c.blockedOn.Store(b) }
func (c *client) Open(up engine.Upstream, cmd *resp.Command) (*upstream.Dedicated, error) {
	return dedicated.Open(c.srv.ctx, up, cmd, c.proto(), c.loginArgs())
}
