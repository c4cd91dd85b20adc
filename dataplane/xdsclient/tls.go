package xdsclient

import (
	"crypto/tls"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"keyway.dev/proto/keypair"
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
	pool, err := keypair.LoadPool(f.CA)
	if err != nil {
		return nil, fmt.Errorf("xdsclient: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, ServerName: f.ServerName}
	if f.Cert != "" {
		kp, err := keypair.New(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("xdsclient: client certificate: %w", err)
		}
		cfg.GetClientCertificate = kp.GetClientCertificate
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(cfg)), nil
}
