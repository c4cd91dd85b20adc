package auth

import (
	"crypto/tls"
	"errors"

	"keyway.dev/proto/keypair"
)

// ClientTLS is a TLS client configuration for reaching a server that
// demands mutual TLS, such as a production etcd: the server is verified
// against caFile (the system roots when empty), and the client
// certificate and key, when given, are re-read whenever either file
// changes, so a certificate rotated by cert-manager or Vault is picked up
// by the next connection without a restart. A rotation that leaves a
// half-written pair keeps presenting the previous one.
func ClientTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("tls: a client certificate needs its key and a key its certificate")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := LoadPool(caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if certFile != "" {
		kp, err := keypair.New(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = kp.GetClientCertificate
	}
	return cfg, nil
}
