package server

import (
	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/server/identity"
)

// domainOf returns the session's workload domain under st, deciding it
// again only when the identity rules changed since the last decision.
func (c *client) domainOf(st *engine.State) string {
	if c.identity != st.Proxy || c.identity == nil {
		certs, known := c.certNames()
		d := identity.Domain(st.Proxy, c.sess.Listener, c.sess.User, c.sess.Name, certs)
		c.identity = st.Proxy
		if !known {
			c.identity = nil // decide again once the TLS handshake is done
		}
		if d != c.sess.Domain {
			c.moved(c.sess.Domain, d)
			c.mu.Lock()
			c.sess.Domain = d
			c.mu.Unlock()
		}
	}
	return c.sess.Domain
}

// forgetDomain makes the next batch decide the domain again, after AUTH,
// CLIENT SETNAME or RESET changed what it depends on.
func (c *client) forgetDomain() { c.identity = nil }

// Unauthenticated reports whether the policy requires AUTH and the
// client has not passed it: such a client may run only AUTH, HELLO,
// PING, QUIT and RESET (which Redis also lets through; it only logs the
// connection out).
func (c *client) Unauthenticated(st *engine.State) bool {
	return st != nil && !c.authed && st.Proxy.GetIdentity().GetRequireAuth()
}
