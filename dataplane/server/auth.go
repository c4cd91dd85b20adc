package server

import (
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"keyway.dev/dataplane/engine"
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
	src := sourceKey(c.sess.Addr)
	if msg := c.srv.auth.wait(c.srv.ctx, src); msg != "" {
		return msg
	}
	switch checkAuth(st.Proxy.GetIdentity(), user, pass, legacy) {
	case authWrong:
		c.srv.auth.failed(src, time.Now())
		return wrongPass
	case authNoPassword:
		c.srv.auth.failed(src, time.Now())
		return noPassword
	}
	c.authed = true
	c.mu.Lock()
	c.sess.User = user
	c.mu.Unlock()
	c.forgetDomain()
	return ""
}

// hello answers HELLO in RESP2 only: the proxy multiplexes clients onto
// shared RESP2 upstream connections, so it refuses protocol 3 with the
// error Redis uses for versions it does not speak, and clients fall back.
func (c *client) hello(st *engine.State, args [][]byte) bool {
	next := 1
	if len(args) >= 2 {
		ver, err := strconv.ParseInt(string(args[1]), 10, 64)
		if err != nil {
			c.writeError("ERR Protocol version is not an integer or out of range")
			return true
		}
		if ver != 2 {
			c.writeError("NOPROTO unsupported protocol version")
			return true
		}
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
	b := redcon.AppendArray(c.out[:0], 14)
	b = redcon.AppendBulkString(b, "server")
	b = redcon.AppendBulkString(b, "redis")
	b = redcon.AppendBulkString(b, "version")
	b = redcon.AppendBulkString(b, c.srv.cfg.RedisVersion)
	b = redcon.AppendBulkString(b, "proto")
	b = redcon.AppendInt(b, 2)
	b = redcon.AppendBulkString(b, "id")
	b = redcon.AppendInt(b, int64(c.sess.ID))
	b = redcon.AppendBulkString(b, "mode")
	b = redcon.AppendBulkString(b, "standalone")
	b = redcon.AppendBulkString(b, "role")
	b = redcon.AppendBulkString(b, "master")
	b = redcon.AppendBulkString(b, "modules")
	b = redcon.AppendArray(b, 0)
	c.out = b
	c.write(b)
	return true
}
