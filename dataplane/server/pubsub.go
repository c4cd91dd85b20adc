package server

import (
	"errors"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/server/pin"
	"keyway.dev/dataplane/server/push"
)

// Pub/sub: SUBSCRIBE, PSUBSCRIBE and SSUBSCRIBE pin a dedicated upstream
// connection for as long as any subscription lives. While subscribed,
// every command of the client goes to that connection and Redis answers
// it, so the replies, the refusals of commands not allowed in this
// context and the pushed messages reach the client in Redis's order and
// words; a relay (push.Relay) copies them to the client as they arrive.
// After each command that may end the last subscription the proxy asks
// Redis whether the connection is still subscribed; when it is not, the
// connection is reset and released and the client is back on the normal
// path. QUIT and RESET are answered by the proxy as usual, after the
// relay has handed over what it had.

// subscribe takes the client into pub/sub mode with its first
// subscribing command. A client holding a connection for WATCH keeps it:
// Redis lets a watching client subscribe, and the watch survives.
func (c *client) subscribe(st *engine.State, req *engine.Request) bool {
	cmd := &req.Cmd
	if out, refused := resp.AppendRefusal(c.out[:0], cmd); refused {
		c.out = out
		c.write(out)
		return true
	}
	p := c.pin
	var fan *push.Fanout
	if p == nil || p.Conn() == nil { // a watch whose connection broke has none
		d, up, err := c.openDedicated(st, cmd)
		if err != nil {
			c.writeError(err.Error())
			return true
		}
		if p == nil {
			p = pin.New(c.srv.ctx, c)
		}
		p.Adopt(d)
		fan = push.NewFanout(up, d.Addr())
	}
	c.pin = p
	if err := c.startOutbox(); err != nil {
		fan.Stop()
		c.dropPin()
		return c.lose(err)
	}
	c.sub = push.NewRelay(c.srv.ctx, p.Conn(), c.box, c.resp3())
	c.fan = fan
	c.sub.Start()
	return c.serveSubscribed(st, req)
}

// serveSubscribed serves one command of a subscribed client. Redis's
// answers come back through the relay.
//
// A RESP2 connection in pub/sub mode takes only pub/sub commands, so
// every command goes to Redis on the subscribed connection, which judges
// it in pub/sub mode's words. A RESP3 connection takes any command while
// subscribed (messages are push frames a client tells from replies): a
// command that keeps no connection state goes through the tree like any
// other, so the policy applies, and its reply joins the relay's queue;
// the rest go to the subscribed connection, followed by the marker, so
// their replies are in the queue, in order, before the next command is
// served.
func (c *client) serveSubscribed(st *engine.State, req *engine.Request) bool {
	r := c.sub
	cmd := &req.Cmd
	if r.RESP3() && !cmd.Spec.Has(resp.FlagPubSub) && !needsDedicated(cmd) {
		c.serveAlone(st, req, nil)
		return c.box.Err() == nil || c.lose(c.box.Err())
	}
	if msg := c.subscribedRefusal(st, cmd); msg != "" { // pubsubpolicy.go
		return c.refuseSubscribed(msg)
	}
	change := push.IsSubscriptionChange(cmd.Spec) || r.RESP3()
	if c.fan != nil {
		// The other nodes first: by the time the client reads Redis's
		// confirmation, every node it will hear from is subscribed.
		if err := c.fan.Apply(c.srv.ctx, cmd, c.proto(), c.box); err != nil {
			return c.lose(err)
		}
	}
	var err error
	if change {
		err = c.pin.Conn().Send(cmd.Args, r.Marker())
	} else {
		err = c.pin.Conn().Send(cmd.Args)
	}
	if err != nil {
		return c.lose(err)
	}
	if !change {
		return true
	}
	subscribed, ok := r.Await()
	if !ok {
		return c.lose(c.box.Err())
	}
	if !subscribed {
		c.unsubscribed()
	}
	return true
}

// unsubscribed returns the client to the normal path once Redis says its
// connection has no subscription left: the relay writes what it holds,
// and the connection is reset and released, unless the client still
// watches keys on it.
func (c *client) unsubscribed() {
	c.stopSubscription()
	c.stopOutbox()
	if c.pin.Busy() {
		return
	}
	c.pin.Release()
	c.pin = nil
}

// endSubscription stops the relay of a client that leaves, resets or
// quits while subscribed, and releases its connection: RESET on the
// connection drops subscriptions and watches alike, so it can serve
// another client.
func (c *client) endSubscription() {
	p := c.pin
	c.stopSubscription()
	c.pin = nil
	c.stopOutbox()
	p.Release()
}

// stopSubscription stops the relay and the other nodes' subscriptions.
func (c *client) stopSubscription() {
	c.sub.Stop()
	c.sub = nil
	c.fan.Stop()
	c.fan = nil
}

// lose drops a subscribed client whose upstream connection or socket
// failed: its messages can no longer be delivered in order, and Redis
// would have closed it too.
func (c *client) lose(err error) bool {
	if err == nil {
		err = errors.New("relay ended")
	}
	c.srv.log.Warn("closing subscribed client", "id", c.sess.ID, "addr", c.sess.Addr, "err", err)
	c.dead = true
	_ = c.rc.NetConn().Close()
	return false
}

// unsubscribeIdle answers (P|S)UNSUBSCRIBE from a client that is not
// subscribed, as Redis does: one confirmation per channel named, or one
// with a null channel, each with a count of zero.
func (c *client) unsubscribeIdle(cmd *resp.Command) {
	kind := strings.ToLower(cmd.Spec.Name)
	resp3 := c.resp3()
	b := c.out[:0]
	if len(cmd.Args) == 1 {
		b = resp.AppendPush(b, 3, resp3)
		b = redcon.AppendBulkString(b, kind)
		b = resp.AppendNull(b, resp3)
		b = redcon.AppendInt(b, 0)
	}
	for _, ch := range cmd.Args[1:] {
		b = resp.AppendPush(b, 3, resp3)
		b = redcon.AppendBulkString(b, kind)
		b = redcon.AppendBulk(b, ch)
		b = redcon.AppendInt(b, 0)
	}
	c.out = b
	c.write(b)
}

// idleExempt turns the idle timeout off for a subscribed client and on
// again when it leaves pub/sub mode; the change applies from the next
// read on.
func (c *client) idleExempt(on bool) {
	c.nc.NoIdle.Store(on)
	if on {
		_ = c.nc.Conn.SetReadDeadline(time.Time{}) // the loop set one before this read
	}
}
