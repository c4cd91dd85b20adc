package frontend

import (
	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/answer"
	"keyway.dev/dataplane/frontend/identity"
)

// Authenticate logs the session in as user, or returns the error text
// (identity.Authenticate). Before any policy there is nothing to check
// against, so the client is told to retry rather than that its password
// is wrong.
func (c *client) Authenticate(st *engine.State, user, pass string, legacy bool) string {
	if st == nil {
		return answer.ErrNoPolicy.Error()
	}
	id := st.Proxy.GetIdentity()
	login := func() string { return c.cs.Login(st, user, pass, legacy) }
	if msg := identity.Authenticate(c.srv.ctx, c.srv.auth, id, c.sess.Addr, user, pass, legacy, login); msg != "" {
		return msg
	}
	c.authed = true
	c.mu.Lock()
	c.sess.User = user
	c.mu.Unlock()
	if !id.GetRedisUsers() {
		c.forgetDomain()
	}
	return ""
}

// domainOf returns the session's workload domain under st, deciding it
// again only when the identity rules changed since the last decision.
func (c *client) domainOf(st *engine.State) string {
	d, decided := c.who.Decide(st.Proxy, c.nc.Conn, c.sess.Listener, c.sess.User, c.sess.Name)
	if decided && d != c.sess.Domain {
		c.moved(c.sess.Domain, d)
		c.mu.Lock()
		c.sess.Domain = d
		c.mu.Unlock()
	}
	return c.sess.Domain
}

// forgetDomain makes the next batch decide the domain again.
func (c *client) forgetDomain() { c.who.Forget() }

// Unauthenticated reports whether the policy requires AUTH and the
// client has not passed it: such a client may run only AUTH, HELLO,
// PING, QUIT and RESET (which Redis also lets through; it only logs the
// connection out).
func (c *client) Unauthenticated(st *engine.State) bool {
	return st != nil && !c.authed && st.Proxy.GetIdentity().GetRequireAuth()
}
