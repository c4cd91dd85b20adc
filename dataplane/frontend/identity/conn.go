package identity

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Redis's words for failed authentication.
const (
	WrongPassReply  = "WRONGPASS invalid username-password pair or user is disabled."
	NoPasswordReply = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
)

// Authenticate judges AUTH [user] password (legacy: the password alone,
// for the default user) from the client at addr under the policy's
// identity rules. It waits out the throttle first; then Redis judges
// (login, returning Redis's refusal or "") when the policy's users are
// Redis's, else the policy's users do (CheckAuth). A failure counts
// against addr. It returns the error to answer, or "".
func Authenticate(ctx context.Context, t *Throttle, id *keywayv1.Identity, addr, user, pass string, legacy bool, login func() string) string {
	src := SourceKey(addr)
	if msg := t.Wait(ctx, src); msg != "" {
		return msg
	}
	var msg string
	if id.GetRedisUsers() {
		msg = login()
	} else {
		switch CheckAuth(id, user, pass, legacy) {
		case Wrong:
			msg = WrongPassReply
		case NoPassword:
			msg = NoPasswordReply
		}
	}
	if msg != "" {
		t.Failed(src, time.Now())
	}
	return msg
}

// Conn is what one connection knows of who its client is, beyond its
// session: the configuration its workload domain was decided under and
// the names of its verified TLS certificate. It belongs to the
// connection's goroutine.
type Conn struct {
	// decided is the config the domain was decided under; a new
	// config decides again, and so does Forget.
	decided    *keywayv1.ProxyConfig
	certs      []string
	certsKnown bool
}

// Decide returns the workload domain of a connection with the given
// listener, user and client name on nc under pc, and false when the one
// decided before still holds: it decides again only when pc changed or
// after Forget.
func (c *Conn) Decide(pc *keywayv1.ProxyConfig, nc net.Conn, listener, user, name string) (string, bool) {
	if c.decided == pc && pc != nil {
		return "", false
	}
	certs, known := c.certNames(nc)
	d := Domain(pc, listener, user, name, certs)
	c.decided = pc
	if !known {
		c.decided = nil // decide again once the TLS handshake is done
	}
	return d, true
}

// Undecided reports whether the next Decide decides again whatever the
// config: after Forget, or before the first decision.
func (c *Conn) Undecided() bool { return c.decided == nil }

// Forget makes the next Decide decide again, after AUTH, CLIENT SETNAME
// or RESET changed what the domain depends on.
func (c *Conn) Forget() { c.decided = nil }

// certNames returns the names of the client's verified TLS certificate,
// for the policy's certificate rules; known is false while the handshake
// has not finished. Plain connections, and certificates the listener did
// not verify, have none.
func (c *Conn) certNames(nc net.Conn) (names []string, known bool) {
	if c.certsKnown {
		return c.certs, true
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
		c.certs = CertNames(st.PeerCertificates[0])
	}
	return c.certs, true
}
