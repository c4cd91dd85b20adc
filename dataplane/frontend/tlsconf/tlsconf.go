// Package tlsconf serves the client listeners' TLS from files that may be
// replaced while the proxy runs: the certificate and key, the client CA
// bundle, and whether clients must present a certificate. Its one reason
// to change is how the proxy loads and reloads them.
package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"keyway.dev/proto/keypair"
)

// Options say where a client listener's certificate, key and client
// CA bundle live on disk and whether clients must present certificates.
type Options struct {
	CertFile string
	KeyFile  string
	// ClientCAFile verifies client certificates; required unless
	// ClientAuth is ClientAuthNone.
	ClientCAFile string
	ClientAuth   ClientAuth
}

// ClientAuth is how a listener treats client certificates.
type ClientAuth uint8

const (
	// ClientAuthNone asks for no client certificate.
	ClientAuthNone ClientAuth = iota
	// ClientAuthRequest verifies a certificate the client offers but
	// admits clients without one.
	ClientAuthRequest
	// ClientAuthRequire admits only clients with a certificate the CA
	// bundle verifies.
	ClientAuthRequire
)

// ParseClientAuth reads none, request or require.
func ParseClientAuth(s string) (ClientAuth, error) {
	switch s {
	case "", "none":
		return ClientAuthNone, nil
	case "request":
		return ClientAuthRequest, nil
	case "require":
		return ClientAuthRequire, nil
	}
	return 0, fmt.Errorf("client auth %q is none of none, request and require", s)
}

func (a ClientAuth) std() tls.ClientAuthType {
	switch a {
	case ClientAuthRequest:
		return tls.VerifyClientCertIfGiven
	case ClientAuthRequire:
		return tls.RequireAndVerifyClientCert
	}
	return tls.NoClientCert
}

// Files serves TLS from files that may be replaced while the proxy
// runs. Every handshake takes the configuration built at the last
// successful load (Reload, or Watch noticing a change), so a reload
// reaches new connections at once, never touches established ones, and
// is logged before any client sees it; a load that fails (a half-written
// file, a key that does not match) keeps the previous configuration. The
// key pair is read through Keyway's one reloader (keypair.Files), the
// client CA bundle with keypair.LoadPool.
type Files struct {
	opts Options
	pair *keypair.Files
	cur  atomic.Pointer[tls.Config]

	mu    sync.Mutex // serialises loads
	stamp []fileStamp
}

// fileStamp is what polling compares to notice a replaced file.
type fileStamp struct {
	mod  time.Time
	size int64
}

// NewFiles loads the files once; an error means nothing usable.
func NewFiles(opts Options) (*Files, error) {
	if opts.CertFile == "" || opts.KeyFile == "" {
		return nil, errors.New("tls needs both a certificate and a key file")
	}
	if opts.ClientAuth != ClientAuthNone && opts.ClientCAFile == "" {
		return nil, errors.New("verifying client certificates needs a client CA file")
	}
	pair, err := keypair.New(opts.CertFile, opts.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load tls certificate: %w", err)
	}
	t := &Files{opts: opts, pair: pair}
	if err := t.Reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// Config is the tls.Config for a listener (tls.NewListener). It holds
// no certificate itself: each handshake picks up the current one.
func (t *Files) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return t.cur.Load(), nil
		},
	}
}

// Certificate is the certificate handshakes present now.
func (t *Files) Certificate() *x509.Certificate {
	return t.cur.Load().Certificates[0].Leaf
}

func (t *Files) files() []string {
	fs := []string{t.opts.CertFile, t.opts.KeyFile}
	if t.opts.ClientCAFile != "" {
		fs = append(fs, t.opts.ClientCAFile)
	}
	return fs
}

// Reload reads every file again, whether or not it changed (SIGHUP).
func (t *Files) Reload() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.load(t.stat())
}

// ReloadIfChanged reloads when a file's modification time or size moved
// since the last load, and reports whether it tried.
func (t *Files) ReloadIfChanged() (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.stat()
	if equalStamps(st, t.stamp) {
		return false, nil
	}
	return true, t.load(st)
}

// stat stamps the files before they are read, so a file replaced during
// a load is noticed at the next poll.
func (t *Files) stat() []fileStamp {
	fs := t.files()
	st := make([]fileStamp, len(fs))
	for i, f := range fs {
		if fi, err := os.Stat(f); err == nil {
			st[i] = fileStamp{mod: fi.ModTime(), size: fi.Size()}
		}
	}
	return st
}

func equalStamps(a, b []fileStamp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].mod.Equal(b[i].mod) || a[i].size != b[i].size {
			return false
		}
	}
	return true
}

// load builds a configuration from the files and installs it. The stamp
// is kept even when loading fails, so a broken file is reported once and
// tried again when it changes.
func (t *Files) load(st []fileStamp) error {
	t.stamp = st
	if err := t.pair.Reload(); err != nil {
		return fmt.Errorf("load tls certificate: %w", err)
	}
	// The pair just loaded, fixed in the configuration: handshakes see a
	// new pair only through a load, never between polls.
	cert, err := t.pair.Get()
	if err != nil {
		return fmt.Errorf("load tls certificate: %w", err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{*cert},
		ClientAuth:   t.opts.ClientAuth.std(),
	}
	if t.opts.ClientCAFile != "" {
		pool, err := keypair.LoadPool(t.opts.ClientCAFile)
		if err != nil {
			return fmt.Errorf("client ca: %w", err)
		}
		cfg.ClientCAs = pool
	}
	t.cur.Store(cfg)
	return nil
}

// Watch polls the files every interval and reloads the ones that
// changed until ctx ends; report hears of every reload tried, with its
// error.
func (t *Files) Watch(ctx context.Context, every time.Duration, report func(error)) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if tried, err := t.ReloadIfChanged(); tried && report != nil {
				report(err)
			}
		}
	}
}
