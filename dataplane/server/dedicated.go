package server

import (
	"context"
	"errors"
	"fmt"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/upstream"
)

// dedicatedOpener is an upstream that can lend a connection to one
// client; upstream.Client is one.
type dedicatedOpener interface {
	Dedicated(ctx context.Context) (*upstream.Dedicated, error)
}

// upstreamLeaf is a leaf engine that says which upstream it sends to.
type upstreamLeaf interface {
	Upstream() engine.Upstream
}

// pin is a dedicated upstream connection held by one client for as long
// as the connection state it carries lives: a transaction, watched keys,
// or one blocking command.
type pin struct {
	d     *upstream.Dedicated
	multi bool
	watch bool
	// sub relays pushed messages while the client is subscribed
	// (pubsub.go).
	sub *relay
}

// busy reports whether the upstream connection still holds state of this
// client.
func (p *pin) busy() bool { return p.multi || p.watch }

// pinnedLocal are the commands the proxy keeps answering itself while a
// client is pinned; everything else goes to the pinned connection so that
// a transaction queues exactly what the client sent.
func pinnedLocal(l *local) bool {
	return l != nil && (l.name == "quit" || l.name == "reset")
}

// servePinned sends one command on the client's dedicated connection,
// opening it first if needed, writes the reply and releases the
// connection once no state remains on it. It returns false when the
// client must be closed.
func (c *client) servePinned(st *engine.State, cmd *resp.Command) bool {
	if c.pin != nil && c.pin.sub != nil {
		return c.serveSubscribed(cmd)
	}
	if c.pin == nil && c.unauthenticated(st) {
		c.writeError(errNoAuth.Error())
		return true
	}
	if isSubscribe(cmd.Spec) && (c.pin == nil || !c.pin.multi) {
		return c.subscribe(st, cmd)
	}
	if c.pin == nil {
		if cmd.Spec.Has(resp.FlagPubSub) {
			c.unsubscribeIdle(cmd)
			return true
		}
		d, err := c.openDedicated(st, cmd)
		if err != nil {
			c.writeError(err.Error())
			return true
		}
		c.pin = &pin{d: d}
	}
	p := c.pin
	if err := p.d.Send(cmd.Args); err != nil {
		c.dropPin()
		c.writeError(err.Error())
		return true
	}
	reply, err := p.d.Next(c.srv.ctx)
	if err != nil {
		c.dropPin()
		c.writeError(err.Error())
		return true
	}
	c.write(reply)
	ok := len(reply) > 0 && reply[0] != '-'
	switch cmd.Name() {
	case "MULTI":
		p.multi = p.multi || ok // a nested MULTI fails but the first one stands
	case "EXEC", "DISCARD":
		// Either ends the transaction and forgets watched keys, even when
		// EXEC fails.
		p.multi, p.watch = false, false
	case "WATCH":
		p.watch = p.watch || ok
	case "UNWATCH":
		p.watch = p.watch && !ok
	}
	if !p.busy() {
		p.d.Release()
		c.pin = nil
	}
	return true
}

// openDedicated finds the upstream the tree would send cmd to and takes a
// connection of its own there.
func (c *client) openDedicated(st *engine.State, cmd *resp.Command) (*upstream.Dedicated, error) {
	if st == nil {
		return nil, errNoPolicy
	}
	tree := c.treeOf(st)
	if tree == nil {
		return nil, fmt.Errorf("keyway: workload domain %q has no policy", c.sess.Domain)
	}
	r := &engine.Request{Cmd: *cmd, Session: &c.sess}
	up, err := upstreamFor(tree.Root, r)
	if err != nil {
		return nil, err
	}
	if d, ok, err := openForKey(c.srv.ctx, up, cmd); ok { // clusterpin.go
		return d, err
	}
	op, ok := up.(dedicatedOpener)
	if !ok {
		return nil, fmt.Errorf("keyway: %s needs a dedicated upstream connection, which upstream %q cannot give", cmd.Spec.Name, up.Name())
	}
	d, err := op.Dedicated(c.srv.ctx)
	if err != nil {
		return nil, fmt.Errorf("keyway: dedicated connection to %s: %w", up.Name(), err)
	}
	return d, nil
}

// upstreamFor walks root the way engine.Explain does and returns the
// upstream client of the leaf r reaches, or the refusal an engine on the
// way would answer.
func upstreamFor(root engine.Engine, r *engine.Request) (engine.Upstream, error) {
	x := &engine.Explanation{}
	e := root
	for depth := 0; e != nil && depth < 64; depth++ {
		if l, ok := e.(*engine.Labeled); ok {
			e = l.Engine
		}
		ex, ok := e.(engine.Explainer)
		if !ok {
			return nil, errors.New("keyway: the policy cannot tell which upstream this command goes to")
		}
		next := ex.Explain(r, x)
		if next != nil {
			e = next
			continue
		}
		if x.Refusal != "" {
			return nil, errors.New(x.Refusal)
		}
		if leaf, ok := e.(upstreamLeaf); ok {
			return leaf.Upstream(), nil
		}
		break
	}
	return nil, errors.New("keyway: the policy sends this command to no upstream")
}

// dropPin closes a dedicated connection whose state is unknown.
func (c *client) dropPin() {
	if c.pin != nil && c.pin.sub != nil {
		c.endSubscription()
		return
	}
	if c.pin != nil {
		c.pin.d.Close()
		c.pin = nil
	}
}
