// Package keypair is the one TLS certificate-and-key reloader of Keyway:
// servers and clients of both planes read their pair through it, so a
// rotated certificate is picked up on the next handshake without a
// restart, and a half-written rotation never takes a listener down.
package keypair

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Files is a certificate and key on disk, parsed again only when either
// file's modification time or size changes. While a new pair cannot be
// read or parsed, the last good one is served: cert-manager and similar
// tools write the two files one after the other, so a handshake between
// the writes must not fail.
type Files struct {
	cert, key string

	mu     sync.Mutex
	loaded *tls.Certificate
	stamp  [2]stamp
}

type stamp struct {
	mod  time.Time
	size int64
}

// New returns the pair at certFile and keyFile, loading it once so that
// a wrong path or a broken pair is an error at start, not at the first
// handshake.
func New(certFile, keyFile string) (*Files, error) {
	f := &Files{cert: certFile, key: keyFile}
	if _, err := f.Get(); err != nil {
		return nil, err
	}
	return f, nil
}

// Get returns the current pair, reloading it when the files changed.
func (f *Files) Get() (*tls.Certificate, error) {
	ci, cerr := os.Stat(f.cert)
	ki, kerr := os.Stat(f.key)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := errors.Join(cerr, kerr); err != nil {
		if f.loaded != nil {
			return f.loaded, nil
		}
		return nil, fmt.Errorf("tls key pair: %w", err)
	}
	now := [2]stamp{{ci.ModTime(), ci.Size()}, {ki.ModTime(), ki.Size()}}
	if f.loaded != nil && now == f.stamp {
		return f.loaded, nil
	}
	if err := f.load(now); err != nil {
		if f.loaded != nil {
			return f.loaded, nil
		}
		return nil, err
	}
	return f.loaded, nil
}

// Reload reads the pair now, whether or not the files changed (a
// SIGHUP, a poll that noticed a change), and returns why it could not.
// Unlike Get it reports a broken rotation, for callers that log it; the
// last good pair is still what handshakes get.
func (f *Files) Reload() error {
	ci, cerr := os.Stat(f.cert)
	ki, kerr := os.Stat(f.key)
	if err := errors.Join(cerr, kerr); err != nil {
		return fmt.Errorf("tls key pair: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.load([2]stamp{{ci.ModTime(), ci.Size()}, {ki.ModTime(), ki.Size()}})
}

// load parses the pair stamped now and installs it; f.mu is held.
func (f *Files) load(now [2]stamp) error {
	c, err := tls.LoadX509KeyPair(f.cert, f.key)
	if err != nil {
		return fmt.Errorf("tls key pair %s, %s: %w", f.cert, f.key, err)
	}
	f.loaded, f.stamp = &c, now
	return nil
}

// Changed reports whether the files on disk differ from the pair last
// loaded, for callers that want to log or count a rotation.
func (f *Files) Changed() bool {
	ci, cerr := os.Stat(f.cert)
	ki, kerr := os.Stat(f.key)
	if cerr != nil || kerr != nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return [2]stamp{{ci.ModTime(), ci.Size()}, {ki.ModTime(), ki.Size()}} != f.stamp
}

// GetCertificate serves the pair to a tls.Config of a server.
func (f *Files) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) { return f.Get() }

// GetClientCertificate serves the pair to a tls.Config of a client.
func (f *Files) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return f.Get()
}

// LoadPool reads a PEM bundle of CA certificates.
func LoadPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA bundle %s holds no PEM certificate", path)
	}
	return pool, nil
}
