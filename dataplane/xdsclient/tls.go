package xdsclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// TLSFiles locate the PEM files of a TLS connection to the control
// plane.
type TLSFiles struct {
	// CA is the bundle the control plane's certificate must chain to.
	CA string
	// Cert and Key are this proxy's client certificate, which must name
	// its node id (common name, DNS or URI SAN) when the control plane
	// verifies clients. Both or neither.
	Cert, Key string
	// ServerName overrides the name checked in the control plane's
	// certificate; empty means the host of the dialled address.
	ServerName string
}

// TLSDialOption returns transport credentials for Config.DialOptions.
// The client certificate is read again when its files change, so it can
// rotate without a restart; the next connection presents the new one.
func TLSDialOption(f TLSFiles) (grpc.DialOption, error) {
	if f.CA == "" {
		return nil, errors.New("xdsclient: TLS needs the control plane's CA bundle")
	}
	if (f.Cert == "") != (f.Key == "") {
		return nil, errors.New("xdsclient: a client certificate needs both its certificate and key files")
	}
	pem, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("xdsclient: read CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("xdsclient: CA bundle %s holds no PEM certificate", f.CA)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, ServerName: f.ServerName}
	if f.Cert != "" {
		kp := &clientPair{cert: f.Cert, key: f.Key}
		if _, err := kp.get(); err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return kp.get() }
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(cfg)), nil
}

// clientPair is a key pair parsed again when either file's modification
// time changes; a broken new pair keeps the old one.
type clientPair struct {
	cert, key string

	mu      sync.Mutex
	loaded  *tls.Certificate
	modCert time.Time
	modKey  time.Time
}

func (p *clientPair) get() (*tls.Certificate, error) {
	ci, cerr := os.Stat(p.cert)
	ki, kerr := os.Stat(p.key)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := errors.Join(cerr, kerr); err != nil {
		if p.loaded != nil {
			return p.loaded, nil
		}
		return nil, fmt.Errorf("xdsclient: client certificate: %w", err)
	}
	if p.loaded != nil && ci.ModTime().Equal(p.modCert) && ki.ModTime().Equal(p.modKey) {
		return p.loaded, nil
	}
	c, err := tls.LoadX509KeyPair(p.cert, p.key)
	if err != nil {
		if p.loaded != nil {
			return p.loaded, nil
		}
		return nil, fmt.Errorf("xdsclient: load client certificate: %w", err)
	}
	p.loaded, p.modCert, p.modKey = &c, ci.ModTime(), ki.ModTime()
	return p.loaded, nil
}
