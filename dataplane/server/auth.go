package server

import (
	"strconv"
	"strings"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/server/identity"
)

// Redis's words for failed authentication.
const (
	wrongPass  = "WRONGPASS invalid username-password pair or user is disabled."
	noPassword = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
)

// auth checks AUTH [user] password against the policy's users. Before any
// policy there is nothing to check against, so the client is told to
// retry rather than that its password is wrong.
func (c *client) auth(st *engine.State, args [][]byte) bool {
	if len(args) > 3 {
		c.writeError("ERR syntax error")
		return true
	}
	user, pass, legacy := "default", string(args[1]), true
	if len(args) == 3 {
		user, pass, legacy = string(args[1]), string(args[2]), false
	}
	if msg := c.authenticate(st, user, pass, legacy); msg != "" {
		c.writeError(msg)
		return true
	}
	c.write(okReply)
	return true
}

// authenticate logs the session in as user, or returns the error text.
func (c *client) authenticate(st *engine.State, user, pass string, legacy bool) string {
	if st == nil {
		return errNoPolicy.Error()
	}
	src := identity.SourceKey(c.sess.Addr)
	if msg := c.srv.auth.Wait(c.srv.ctx, src); msg != "" {
		return msg
	}
	if st.Proxy.GetIdentity().GetRedisUsers() {
		if msg := c.upstreamLogin(st, user, pass, legacy); msg != "" {
			c.srv.auth.Failed(src, time.Now())
			return msg
		}
		c.authed = true
		c.mu.Lock()
		c.sess.User = user
		c.mu.Unlock()
		return ""
	}
	switch identity.CheckAuth(st.Proxy.GetIdentity(), user, pass, legacy) {
	case identity.Wrong:
		c.srv.auth.Failed(src, time.Now())
		return wrongPass
	case identity.NoPassword:
		c.srv.auth.Failed(src, time.Now())
		return noPassword
	}
	c.authed = true
	c.mu.Lock()
	c.sess.User = user
	c.mu.Unlock()
	c.forgetDomain()
	return ""
}

// hello answers HELLO the way Redis does and switches the session's
// protocol. A RESP3 client's commands go to upstream connections that ran
// HELLO 3 (upstream.Node keeps a pool per protocol), so what Redis sends
// reaches it byte for byte; the replies the proxy builds itself take the
// client's protocol's shape (resp.AppendNull, AppendMap, ...).
func (c *client) hello(st *engine.State, args [][]byte) bool {
	next := 1
	proto := c.proto()
	if len(args) >= 2 {
		ver, err := strconv.ParseInt(string(args[1]), 10, 64)
		if err != nil {
			c.writeError("ERR Protocol version is not an integer or out of range")
			return true
		}
		if ver < 2 || ver > 3 {
			c.writeError("NOPROTO unsupported protocol version")
			return true
		}
		proto = uint8(ver)
		next = 2
	}
	var user, pass, name []byte
	for j := next; j < len(args); j++ {
		more := len(args) - 1 - j
		opt := string(args[j])
		switch {
		case strings.EqualFold(opt, "AUTH") && more >= 2:
			user, pass = args[j+1], args[j+2]
			j += 2
		case strings.EqualFold(opt, "SETNAME") && more >= 1:
			name = args[j+1]
			j++
		default:
			c.writeError("ERR Syntax error in HELLO option '" + opt + "'")
			return true
		}
	}
	if user != nil {
		if msg := c.authenticate(st, string(user), string(pass), false); msg != "" {
			c.writeError(msg)
			return true
		}
	}
	if !c.authed && st != nil && st.Proxy.GetIdentity().GetRequireAuth() {
		c.writeError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return true
	}
	if name != nil && !c.setName(name) {
		return true
	}
	if !c.setProto(proto) {
		return true
	}
	resp3 := proto == 3
	b := resp.AppendMap(c.out[:0], 7, resp3)
	b = resp.AppendBulkString(b, "server")
	b = resp.AppendBulkString(b, "redis")
	b = resp.AppendBulkString(b, "version")
	b = resp.AppendBulkString(b, c.srv.cfg.RedisVersion)
	b = resp.AppendBulkString(b, "proto")
	b = resp.AppendInt(b, int64(proto))
	b = resp.AppendBulkString(b, "id")
	b = resp.AppendInt(b, int64(c.sess.ID))
	b = resp.AppendBulkString(b, "mode")
	b = resp.AppendBulkString(b, c.helloMode(st))
	b = resp.AppendBulkString(b, "role")
	b = resp.AppendBulkString(b, "master")
	b = resp.AppendBulkString(b, "modules")
	b = resp.AppendArray(b, 0)
	c.out = b
	c.write(b)
	return true
}

// proto is the session's RESP version, 2 or 3.
func (c *client) proto() uint8 {
	if c.sess.Proto == 3 {
		return 3
	}
	return 2
}

// resp3 reports whether the client speaks RESP3.
func (c *client) resp3() bool { return c.sess.Proto == 3 }

// setProto switches the session to RESP version proto, and the dedicated
// connection it holds, if any, with it: the state on that connection (a
// watch) must survive, so the connection is switched rather than
// replaced. False means the connection was lost and the client closed.
func (c *client) setProto(proto uint8) bool {
	if proto == c.proto() {
		return true
	}
	if p := c.pin; p != nil && p.Conn() != nil && c.sub == nil {
		if err := p.Conn().Protocol(c.srv.ctx, proto); err != nil {
			c.dropPin()
			c.writeError(err.Error())
			return false
		}
	}
	c.mu.Lock()
	c.sess.Proto = proto
	c.mu.Unlock()
	if t := c.tracker; t != nil {
		t.Reopen()
		if t.Pushes() {
			if err := c.startOutbox(); err != nil {
				c.dead = true
				return false
			}
		} else {
			c.stopOutbox()
		}
	}
	return true
}

// helloMode is what HELLO says the server is: a cluster node on a
// listener that emulates one, as cluster clients that read HELLO expect.
func (c *client) helloMode(st *engine.State) string {
	if c.emulation(st) != nil {
		return "cluster"
	}
	return "standalone"
}
