package server

import (
	"crypto/tls"
	"crypto/x509"

	"keyway.dev/dataplane/server/wire"
	keywayv1 "keyway.dev/proto/keyway/v1"
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
		c.certs = identityNames(st.PeerCertificates[0])
	}
	return c.certs, true
}

// identityNames are the names a certificate proves, most specific
// first: its subject's common name, then its DNS and URI SANs.
func identityNames(cert *x509.Certificate) []string {
	var names []string
	if cn := cert.Subject.CommonName; cn != "" {
		names = append(names, cn)
	}
	names = append(names, cert.DNSNames...)
	for _, u := range cert.URIs {
		names = append(names, u.String())
	}
	return names
}

// certDomain returns the domain of the first certificate rule that
// matches one of names exactly, trying names in order.
func certDomain(rules []*keywayv1.NameRule, names []string) (string, bool) {
	for _, n := range names {
		for _, r := range rules {
			if r.GetMatch() == n && r.GetDomain() != "" {
				return r.GetDomain(), true
			}
		}
	}
	return "", false
}
