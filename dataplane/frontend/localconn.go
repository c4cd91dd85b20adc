package frontend

import (
	"bytes"
	"net"
	"strings"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/answer"
	"keyway.dev/dataplane/frontend/clusteremu"
	"keyway.dev/dataplane/frontend/localcmd"
	"keyway.dev/dataplane/frontend/tracking"
	"keyway.dev/dataplane/resp"
)

// The connection as the commands the proxy answers itself see it
// (localcmd.Conn): the state changes they ask for, and what they read of
// the connection and the server.

var okReply = []byte("+OK\r\n")

func (c *client) Scratch() []byte                          { return c.out[:0] }
func (c *client) Reply(b []byte)                           { c.out = b; c.write(b) }
func (c *client) Session() *engine.Session                 { return &c.sess }
func (c *client) Domain(st *engine.State) string           { return c.domainOf(st) }
func (c *client) Tracker() *tracking.Session               { return c.cs.Tracker() }
func (c *client) Tracking(st *engine.State, args [][]byte) { c.cs.Tracking(st, args) }
func (c *client) LocalAddr() net.Addr                      { return c.rc.NetConn().LocalAddr() }
func (c *client) ClusterAddrs(ip net.IP) []clusteremu.Addr {
	return c.srv.listenerAddrs(c.sess.Listener, ip)
}

func (c *client) SetName(name string) {
	c.mu.Lock()
	c.sess.Name = name
	c.mu.Unlock()
	c.forgetDomain()
}

func (c *client) SetLib(version bool, value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if version {
		c.libVer = value
	} else {
		c.libName = value
	}
}

// SetReplies applies CLIENT REPLY: muted drops the replies of the
// command being served, so OFF and SKIP are not answered themselves.
func (c *client) SetReplies(m localcmd.Replies) {
	switch m {
	case localcmd.RepliesOn:
		c.replyOff, c.skipNext, c.muted = false, false, false
	case localcmd.RepliesOff:
		c.replyOff, c.muted = true, true
	case localcmd.RepliesSkip:
		if !c.replyOff {
			c.skipNext, c.muted = true, true
		}
	}
}

func (c *client) Quit() {
	c.cs.Drop() // a subscribed client's relay writes nothing after +OK
	c.write(okReply)
	c.dead = true
	_ = c.rc.Close() // flushes +OK first
}

// Reset returns the session to a fresh connection's state, as RESET does
// in Redis.
func (c *client) Reset() {
	c.mu.Lock()
	c.sess.Name = ""
	c.sess.User = ""
	c.sess.Proto = 0
	c.libName, c.libVer = "", ""
	c.mu.Unlock()
	c.authed = false
	c.forgetDomain()
	c.cs.Reset() // RESET ends a transaction, forgets watched keys, ends tracking
	c.replyOff, c.skipNext = false, false
}

// AskUpstream serves a command the proxy could answer itself through the
// tree instead, so the client gets what Redis says, and writes the reply;
// false when the policy sends it nowhere, the client has not
// authenticated, or no upstream answered, and the caller answers.
func (c *client) AskUpstream(st *engine.State, args [][]byte) bool {
	if st == nil || (st.Proxy.GetIdentity().GetRequireAuth() && !c.authed) {
		return false
	}
	r := &engine.Request{Session: &c.sess}
	r.Cmd.Args = args
	r.Cmd.Spec = resp.Resolve(args)
	if r.Cmd.Spec == nil {
		return false
	}
	c.serveOne(st, r)
	raw := r.Raw()
	if r.Kind() == engine.KindRefused || r.Kind() == engine.KindProxy || r.Kind() == engine.KindTimeout || len(raw) == 0 {
		return false
	}
	c.write(raw)
	return true
}

// UpstreamInfo sends the client's INFO through its domain's tree and
// returns the reply, or nil when there is none to use.
func (c *client) UpstreamInfo(st *engine.State, args [][]byte) []byte {
	if st == nil {
		return nil
	}
	r := &engine.Request{Session: &c.sess}
	for _, a := range args {
		r.Cmd.Args = append(r.Cmd.Args, bytes.Clone(a))
	}
	r.Cmd.Spec = resp.Resolve(r.Cmd.Args)
	c.serveRun(st, engine.Batch{r})
	if !r.Done() || r.Err() != nil || resp.IsError(r.Raw()) {
		return nil
	}
	return r.Raw()
}

// Proxy is what INFO says of the proxy.
func (c *client) Proxy() answer.Proxy {
	s := c.srv
	return answer.Proxy{
		RedisVersion: s.cfg.RedisVersion,
		Version:      s.cfg.Version,
		NodeID:       s.cfg.NodeID,
		Start:        s.start,
		Clients:      s.nclients.Load(),
		Blocked:      s.shared.Blocked.Load(),
		MaxClients:   s.cfg.Limits.MaxClients,
	}
}

// Line is the connection in CLIENT LIST's format (answer.ClientLine).
func (c *client) Line(now time.Time) string {
	sess, lib, ver := c.snapshot()
	laddr := ""
	if a := c.rc.NetConn().LocalAddr(); a != nil {
		laddr = a.String()
	}
	return answer.ClientLine(sess, lib, ver, laddr, now.Sub(c.created))
}

// List is CLIENT LIST: the clients of the caller's domain only.
func (c *client) List(now time.Time) string {
	var sb strings.Builder
	c.srv.each(func(o *client) {
		if !c.sameDomain(o) { // domainscope.go
			return
		}
		sb.WriteString(o.Line(now))
		sb.WriteByte('\n')
	})
	return sb.String()
}

// Unblock unblocks client id, whose blocking command waits on a
// connection of its own: Redis unblocks that connection as it would
// unblock the client. A client of another domain is as if there were no
// such client (domainscope.go).
func (c *client) Unblock(id uint64, mode []byte) []byte {
	x := c.srv.clientByID(id)
	if x == nil || !c.sameDomain(x) {
		return nil
	}
	d := x.cs.BlockedOn()
	if d == nil {
		return nil
	}
	return d.Unblock(c.srv.ctx, mode)
}
