package server

import (
	"crypto/tls"

	"keyway.dev/dataplane/server/identity"
	"keyway.dev/dataplane/server/wire"
)

// certNames returns the names of the client's verified TLS certificate,
// for the policy's certificate rules; known is false while the handshake
// has not finished (the domain is decided again after it). Plain
// connections, and certificates the listener did not verify, have none.
func (c *client) certNames() (names []string, known bool) {
	if c.certsKnown {
		return c.certs, true
	}
	nc := c.rc.NetConn()
	if g, ok := nc.(*wire.Conn); ok {
		nc = g.Conn
	}
	tc, ok := nc.(*tls.Conn)
	if !ok {
		c.certsKnown = true
		return nil, true
	}
	st := tc.ConnectionState()
	if !st.HandshakeComplete {
		return nil, false
	}
	c.certsKnown = true
	if len(st.VerifiedChains) > 0 && len(st.PeerCertificates) > 0 {
		c.certs = identity.CertNames(st.PeerCertificates[0])
	}
	return c.certs, true
}
