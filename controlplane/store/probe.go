package store

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
)

// h2Preface opens an HTTP/2 connection (the client preface and an empty
// SETTINGS frame), which makes a gRPC server answer at once.
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + "\x00\x00\x00\x04\x00\x00\x00\x00\x00"

// probeTLS opens one TLS connection to each endpoint until one is
// accepted. The etcd client retries a refused handshake until its dial
// timeout and then reports only "context deadline exceeded"; this says
// why. A server that refuses the client's certificate under TLS 1.3 does
// so after the client's handshake has completed, so the probe also sends
// the HTTP/2 preface and reads the server's first frame, where the
// refusal shows.
func probeTLS(endpoints []string, cfg *tls.Config) error {
	var errs []error
	for _, ep := range endpoints {
		err := probeOne(ep, cfg)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", ep, err))
	}
	err := errors.Join(errs...)
	if strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "x509:") {
		return fmt.Errorf("TLS with etcd failed (check --etcd-ca, --etcd-cert and --etcd-key against the etcd's --trusted-ca-file and certificate): %w", err)
	}
	// Nothing answered at all: another try may find an etcd that is up.
	return unansweredError{fmt.Errorf("no etcd endpoint accepted a connection: %w", err)}
}

func probeOne(endpoint string, cfg *tls.Config) error {
	host := endpoint
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		host = u.Host
	}
	c := cfg.Clone()
	if c.ServerName == "" {
		if h, _, err := net.SplitHostPort(host); err == nil {
			c.ServerName = h
		}
	}
	c.NextProtos = []string{"h2"}
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", host, c)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if _, err := io.WriteString(conn, h2Preface); err != nil {
		return err
	}
	var frame [9]byte
	if _, err := io.ReadFull(conn, frame[:]); err != nil {
		return err
	}
	return nil
}
