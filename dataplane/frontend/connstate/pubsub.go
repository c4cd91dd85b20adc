package connstate

import (
	"errors"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/dedicated"
	"keyway.dev/dataplane/frontend/push"
	"keyway.dev/dataplane/resp"
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
func (s *State) subscribe(st *engine.State, req *engine.Request) bool {
	cmd := &req.Cmd
	if out, refused := resp.AppendRefusal(s.c.Scratch(), cmd); refused {
		s.c.Reply(out)
		return true
	}
	p := s.pin
	var fan *push.Fanout
	if p == nil || p.Conn() == nil { // a watch whose connection broke has none
		d, up, err := s.openDedicated(st, cmd)
		if err != nil {
			s.c.WriteError(err.Error())
			return true
		}
		if p == nil {
			p = s.newPin()
		}
		p.Adopt(d)
		fan = push.NewFanout(up, d.Addr())
	}
	s.pin = p
	if err := s.startOutbox(); err != nil {
		fan.Stop()
		s.Drop()
		return s.lose(err)
	}
	s.sub = push.NewRelay(s.srv.Ctx, p.Conn(), s.box, s.resp3())
	s.fan = fan
	s.sub.Start()
	return s.serveSubscribed(st, req)
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
func (s *State) serveSubscribed(st *engine.State, req *engine.Request) bool {
	r := s.sub
	cmd := &req.Cmd
	if r.RESP3() && !cmd.Spec.Has(resp.FlagPubSub) && !resp.NeedsDedicated(cmd) {
		s.c.ServeAlone(st, req, nil)
		return s.box.Err() == nil || s.lose(s.box.Err())
	}
	if msg := s.subscribedRefusal(st, cmd); msg != "" {
		return s.refuseSubscribed(msg)
	}
	change := push.IsSubscriptionChange(cmd.Spec) || r.RESP3()
	if s.fan != nil {
		// The other nodes first: by the time the client reads Redis's
		// confirmation, every node it will hear from is subscribed.
		if err := s.fan.Apply(s.srv.Ctx, cmd, s.proto(), s.box); err != nil {
			return s.lose(err)
		}
	}
	var err error
	if change {
		err = s.pin.Conn().Send(cmd.Args, r.Marker())
	} else {
		err = s.pin.Conn().Send(cmd.Args)
	}
	if err != nil {
		return s.lose(err)
	}
	if !change {
		return true
	}
	subscribed, ok := r.Await()
	if !ok {
		return s.lose(s.box.Err())
	}
	if !subscribed {
		s.unsubscribed()
	}
	return true
}

// subscribedRefusal asks the tree about a channel command a subscribed
// client sends, which goes straight to its subscribed connection rather
// than through the engines: the policy's refusal (a channel outside the
// domain's channel_prefixes, say) as the error to answer, or "". Only
// the first subscribing command took the tree's path; without this, the
// next SUBSCRIBE would reach any channel.
func (s *State) subscribedRefusal(st *engine.State, cmd *resp.Command) string {
	if st == nil || resp.KeyAccessOf(cmd) != resp.AccessChannels {
		return ""
	}
	tree := s.c.Tree(st)
	if tree == nil {
		return ""
	}
	r := &engine.Request{Cmd: *cmd, Session: s.c.Session()}
	if _, err := dedicated.UpstreamFor(tree.Root, r); err != nil {
		return err.Error()
	}
	return ""
}

// refuseSubscribed answers a refused command of a subscribed client in
// its place among the replies: a marker first, so every frame Redis owes
// for the commands before it is queued ahead of the error.
func (s *State) refuseSubscribed(msg string) bool {
	r := s.sub
	if err := s.pin.Conn().Send(r.Marker()); err != nil {
		return s.lose(err)
	}
	subscribed, ok := r.Await()
	if !ok {
		return s.lose(s.box.Err())
	}
	s.c.WriteError(msg)
	if !subscribed {
		s.unsubscribed()
	}
	return true
}

// unsubscribed returns the client to the normal path once Redis says its
// connection has no subscription left: the relay writes what it holds,
// and the connection is reset and released, unless the client still
// watches keys on it.
func (s *State) unsubscribed() {
	s.stopSubscription()
	s.stopOutbox()
	if s.pin.Busy() {
		return
	}
	s.pin.Release()
	s.pin = nil
}

// endSubscription stops the relay of a client that leaves, resets or
// quits while subscribed, and releases its connection: RESET on the
// connection drops subscriptions and watches alike, so it can serve
// another client.
func (s *State) endSubscription() {
	p := s.pin
	s.stopSubscription()
	s.pin = nil
	s.stopOutbox()
	p.Release()
}

// stopSubscription stops the relay and the other nodes' subscriptions.
func (s *State) stopSubscription() {
	s.sub.Stop()
	s.sub = nil
	s.fan.Stop()
	s.fan = nil
}

// lose drops a subscribed client whose upstream connection or socket
// failed: its messages can no longer be delivered in order, and Redis
// would have closed it too.
func (s *State) lose(err error) bool {
	if err == nil {
		err = errors.New("relay ended")
	}
	sess := s.c.Session()
	s.srv.Log.Warn("closing subscribed client", "id", sess.ID, "addr", sess.Addr, "err", err)
	s.c.End()
	_ = s.c.Socket().Close()
	return false
}

// unsubscribeIdle answers (P|S)UNSUBSCRIBE from a client that is not
// subscribed, as Redis does: one confirmation per channel named, or one
// with a null channel, each with a count of zero.
func (s *State) unsubscribeIdle(cmd *resp.Command) {
	kind := strings.ToLower(cmd.Spec.Name)
	resp3 := s.resp3()
	b := s.c.Scratch()
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
	s.c.Reply(b)
}

// startOutbox hands the socket to an outbox: replies buffered so far go
// out first, and from then on every write joins the outbox's queue. The
// idle timeout is off while it runs, as Redis never times out a
// subscribed client.
func (s *State) startOutbox() error {
	if s.box != nil {
		return nil
	}
	if err := s.c.Flush(); err != nil {
		return err
	}
	s.box = push.NewOutbox(s.c.Socket(), s.srv.MaxPubSubOutput)
	s.boxRef.Store(s.box)
	s.idleExempt(true)
	return nil
}

// stopOutbox gives the socket back to the client goroutine once nothing
// pushes to it any more: no subscription and no tracking that delivers
// to this connection.
func (s *State) stopOutbox() {
	if s.box == nil || s.sub != nil || s.tracker.Pushes() {
		return
	}
	s.boxRef.Store(nil)
	s.box.Stop()
	s.box = nil
	s.idleExempt(false)
}

// idleExempt turns the idle timeout off for a client the outbox writes
// to and on again when it leaves; the change applies from the next read
// on.
func (s *State) idleExempt(on bool) {
	nc := s.c.Socket()
	nc.NoIdle.Store(on)
	if on {
		_ = nc.Conn.SetReadDeadline(time.Time{}) // the loop set one before this read
	}
}
