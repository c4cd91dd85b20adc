package config

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"keyway.dev/proto/keypair"
)

// DialOptions are the gRPC options for s: TLS when any TLS setting is
// present, and the token as a bearer credential on every call. A token is
// never sent in clear text except to a loopback address, where `make
// demo` runs.
func (s Settings) DialOptions() ([]grpc.DialOption, error) {
	var opts []grpc.DialOption
	secure := s.TLS.enabled()
	if secure {
		cfg, err := s.TLS.config()
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	} else {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if s.Token != "" {
		if !secure && !loopback(s.Addr) {
			return nil, fmt.Errorf("refusing to send a token in clear text to %s: configure TLS (--ca, or tls.ca in the config file) or use a loopback address", s.Addr)
		}
		opts = append(opts, grpc.WithPerRPCCredentials(bearer(s.Token)))
	}
	return opts, nil
}

func (t TLS) config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CA != "" {
		pool, err := keypair.LoadPool(t.CA)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if (t.Cert == "") != (t.Key == "") {
		return nil, errors.New("a client certificate needs both --cert and --key")
	}
	if t.Cert != "" {
		c, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg, nil
}

// loopback reports whether addr's host is a loopback address or
// localhost.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// bearer sends "authorization: Bearer <token>" with every call. Transport
// security is checked by DialOptions, which allows loopback in clear.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }
