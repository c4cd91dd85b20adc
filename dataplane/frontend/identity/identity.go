// Package identity decides who a client is: it judges AUTH
// (Authenticate: against the policy's users, CheckAuth, or by Redis),
// slows down guessing from one address (Throttle), and picks the
// workload domain a connection runs in from what is known of it
// (Domain, and Conn, which decides it again only when that changes): its
// user, its TLS certificate, its client name, its listener.
package identity

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"strings"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Domain decides a connection's workload domain. The most specific
// evidence wins: an authenticated user, then a verified TLS client
// certificate (exact name), then a self-declared client name (longest
// matching prefix), then the listener, then the default.
func Domain(pc *keywayv1.ProxyConfig, listener, user, name string, certs []string) string {
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

// Result is the outcome of checking AUTH credentials.
type Result uint8

const (
	OK Result = iota
	Wrong
	// NoPassword is Redis's answer to AUTH <password> when the default
	// user has no password.
	NoPassword
)

// CheckAuth checks user's password against the policy's SHA-256 hashes,
// in constant time per hash. legacy is the one-argument AUTH <password>.
func CheckAuth(id *keywayv1.Identity, user, password string, legacy bool) Result {
	var u *keywayv1.User
	for _, cand := range id.GetUsers() {
		if cand.GetName() == user {
			u = cand
			break
		}
	}
	if u == nil {
		if legacy {
			return NoPassword
		}
		return Wrong
	}
	sum := sha256.Sum256([]byte(password))
	var got [2 * sha256.Size]byte
	hex.Encode(got[:], sum[:])
	for _, want := range u.GetPasswordSha256() {
		if subtle.ConstantTimeCompare(got[:], []byte(strings.ToLower(want))) == 1 {
			return OK
		}
	}
	return Wrong
}

// CertNames are the names a certificate proves, most specific first: its
// subject's common name, then its DNS and URI SANs.
func CertNames(cert *x509.Certificate) []string {
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
