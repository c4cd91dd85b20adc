package server

import (
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/server/answer"
	"keyway.dev/dataplane/server/identity"
)

// Redis's words for failed authentication.
const (
	wrongPass  = "WRONGPASS invalid username-password pair or user is disabled."
	noPassword = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
)

// Authenticate logs the session in as user, or returns the error text.
func (c *client) Authenticate(st *engine.State, user, pass string, legacy bool) string {
	if st == nil {
		return answer.ErrNoPolicy.Error()
	}
	src := identity.SourceKey(c.sess.Addr)
	if msg := c.srv.auth.Wait(c.srv.ctx, src); msg != "" {
		return msg
	}
	if st.Proxy.GetIdentity().GetRedisUsers() {
		if msg := c.cs.Login(st, user, pass, legacy); msg != "" {
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

// proto is the session's RESP version, 2 or 3.
func (c *client) proto() uint8 {
	if c.sess.Proto == 3 {
		return 3
	}
	return 2
}

// resp3 reports whether the client speaks RESP3.
func (c *client) resp3() bool { return c.sess.Proto == 3 }

// SetProto switches the session to RESP version proto, and the
// dedicated connection it holds with it (connstate.State.SetProto).
func (c *client) SetProto(proto uint8) bool {
	if proto == c.proto() {
		return true
	}
	return c.cs.SetProto(proto, func() {
		c.mu.Lock()
		c.sess.Proto = proto
		c.mu.Unlock()
	})
}
