package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"

	"keyway.dev/dataplane/engine"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// domainOf returns the session's workload domain under st, deciding it
// again only when the identity rules changed since the last decision.
func (c *client) domainOf(st *engine.State) string {
	if c.identity != st.Proxy || c.identity == nil {
		certs, known := c.certNames()
		d := resolveDomain(st.Proxy, c.sess.Listener, c.sess.User, c.sess.Name, certs)
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

// resolveDomain decides a connection's workload domain. The most specific
// evidence wins: an authenticated user, then a verified TLS client
// certificate (exact name), then a self-declared client name (longest
// matching prefix), then the listener, then the default.
func resolveDomain(pc *keywayv1.ProxyConfig, listener, user, name string, certs []string) string {
	id := pc.GetIdentity()
	if user != "" {
		for _, u := range id.GetUsers() {
			if u.GetName() == user && u.GetDomain() != "" {
				return u.GetDomain()
			}
		}
	}
	if d, ok := certDomain(id.GetCertificates(), certs); ok {
		return d
	}
	if name != "" {
		best, bestLen := "", -1
		for _, r := range id.GetClientNames() {
			if strings.HasPrefix(name, r.GetMatch()) && len(r.GetMatch()) > bestLen && r.GetDomain() != "" {
				best, bestLen = r.GetDomain(), len(r.GetMatch())
			}
		}
		if bestLen >= 0 {
			return best
		}
	}
	for _, l := range pc.GetListeners() {
		if l.GetName() == listener && l.GetDomain() != "" {
			return l.GetDomain()
		}
	}
	return id.GetDefaultDomain()
}

// authResult is the outcome of checking AUTH credentials.
type authResult uint8

const (
	authOK authResult = iota
	authWrong
	// authNoPassword is Redis's answer to AUTH <password> when the
	// default user has no password.
	authNoPassword
)

// checkAuth checks user's password against the policy's SHA-256 hashes,
// in constant time per hash.
func checkAuth(id *keywayv1.Identity, user, password string, legacy bool) authResult {
	var u *keywayv1.User
	for _, cand := range id.GetUsers() {
		if cand.GetName() == user {
			u = cand
			break
		}
	}
	if u == nil {
		if legacy {
			return authNoPassword
		}
		return authWrong
	}
	sum := sha256.Sum256([]byte(password))
	var got [2 * sha256.Size]byte
	hex.Encode(got[:], sum[:])
	for _, want := range u.GetPasswordSha256() {
		if subtle.ConstantTimeCompare(got[:], []byte(strings.ToLower(want))) == 1 {
			return authOK
		}
	}
	return authWrong
}
