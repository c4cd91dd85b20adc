package auth_test

import (
	"crypto/tls"
	"os"
	"testing"
	"time"

	"keyway.dev/controlplane/auth"
	"keyway.dev/proto/certtest"
)

// peerCN makes one handshake with a server that demands a client
// certificate and returns the common name the server saw.
func peerCN(t *testing.T, server certtest.Leaf, client *tls.Config) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{server.TLS(t)},
		ClientAuth:   tls.RequireAnyClientCert,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	seen := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			seen <- "accept: " + err.Error()
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			seen <- "handshake: " + err.Error()
			return
		}
		seen <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
	}()
	c, err := tls.Dial("tcp", l.Addr().String(), client)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	return <-seen
}

// A rotated client certificate is presented by the next connection, and
// a rotation that leaves a broken pair keeps the previous certificate.
func TestClientTLSReloads(t *testing.T) {
	ca := certtest.NewCA(t, "etcd-ca")
	srv := ca.Server(t, "etcd")
	first := ca.Client(t, "first")
	second := ca.Client(t, "second")
	cfg, err := auth.ClientTLS(ca.CertFile, first.CertFile, first.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := peerCN(t, srv, cfg); got != "first" {
		t.Fatalf("server saw %q, want first", got)
	}

	later := time.Now().Add(time.Hour)
	replace := func(dst, src string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
		// Modification times are what the reload watches; make the
		// change visible whatever the file system's granularity.
		later = later.Add(time.Second)
		if err := os.Chtimes(dst, later, later); err != nil {
			t.Fatal(err)
		}
	}
	replace(first.CertFile, second.CertFile)
	replace(first.KeyFile, second.KeyFile)
	if got := peerCN(t, srv, cfg); got != "second" {
		t.Fatalf("after rotation the server saw %q, want second", got)
	}

	// Half a rotation: a key that does not match the certificate.
	replace(first.KeyFile, srv.KeyFile)
	if got := peerCN(t, srv, cfg); got != "second" {
		t.Fatalf("after a broken rotation the server saw %q, want the previous second", got)
	}
}

func TestClientTLSRefusesBadInput(t *testing.T) {
	ca := certtest.NewCA(t, "etcd-ca")
	leaf := ca.Client(t, "c")
	for _, tc := range []struct{ name, ca, cert, key string }{
		{"cert without key", ca.CertFile, leaf.CertFile, ""},
		{"key without cert", ca.CertFile, "", leaf.KeyFile},
		{"missing CA", "/nonexistent/ca.pem", "", ""},
		{"CA that is no certificate", leaf.KeyFile, "", ""},
		{"key that does not match", ca.CertFile, leaf.CertFile, ca.CertFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := auth.ClientTLS(tc.ca, tc.cert, tc.key); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
