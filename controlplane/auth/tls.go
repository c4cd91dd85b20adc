package auth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// ServerTLS is the control plane's TLS configuration: its certificate
// and key, reloaded when either file changes so certificates rotate
// without a restart, and, when clientCA is set, verification of client
// certificates against it. Client certificates are verified when given
// rather than required, because admin callers may use tokens instead;
// proxies' streams demand one (Config.NodeCerts).
func ServerTLS(certFile, keyFile, clientCA string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("tls: both a certificate and a key are required")
	}
	kp := &keyPair{cert: certFile, key: keyFile}
	if _, err := kp.get(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return kp.get()
		},
		NextProtos: []string{"h2"},
	}
	if clientCA != "" {
		pool, err := LoadPool(clientCA)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// LoadPool reads a PEM bundle of CA certificates.
func LoadPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA bundle %s holds no PEM certificate", path)
	}
	return pool, nil
}

// keyPair is a certificate and key on disk, parsed again only when a
// file's modification time changes; a bad new pair keeps the old one, so
// a half-written rotation does not take the server down.
type keyPair struct {
	cert, key string

	mu       sync.Mutex
	loaded   *tls.Certificate
	certTime time.Time
	keyTime  time.Time
}

func (k *keyPair) get() (*tls.Certificate, error) {
	ci, err := os.Stat(k.cert)
	if err != nil {
		return k.fallback(fmt.Errorf("tls certificate: %w", err))
	}
	ki, err := os.Stat(k.key)
	if err != nil {
		return k.fallback(fmt.Errorf("tls key: %w", err))
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.loaded != nil && ci.ModTime().Equal(k.certTime) && ki.ModTime().Equal(k.keyTime) {
		return k.loaded, nil
	}
	c, err := tls.LoadX509KeyPair(k.cert, k.key)
	if err != nil {
		if k.loaded != nil {
			return k.loaded, nil
		}
		return nil, fmt.Errorf("load tls key pair: %w", err)
	}
	k.loaded, k.certTime, k.keyTime = &c, ci.ModTime(), ki.ModTime()
	return k.loaded, nil
}

func (k *keyPair) fallback(err error) (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.loaded != nil {
		return k.loaded, nil
	}
	return nil, err
}
