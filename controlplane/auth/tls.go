package auth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"

	"keyway.dev/proto/keypair"
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
	kp, err := keypair.New(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: kp.GetCertificate,
		NextProtos:     []string{"h2"},
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
func LoadPool(path string) (*x509.CertPool, error) { return keypair.LoadPool(path) }
