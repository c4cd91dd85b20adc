package upstream

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/redistest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func envRef(name string) *keywayv1.SecretRef {
	return &keywayv1.SecretRef{Source: &keywayv1.SecretRef_Env{Env: name}}
}

func fileRef(path string) *keywayv1.SecretRef {
	return &keywayv1.SecretRef{Source: &keywayv1.SecretRef_File{File: path}}
}

func TestAuth(t *testing.T) {
	s := redistest.Start(t)
	s.Do("ACL", "SETUSER", "app", "on", ">app-secret", "~*", "&*", "+@all")
	s.Do("CONFIG", "SET", "requirepass", "default-secret") // last: s.Do cannot AUTH

	dir := t.TempDir()
	userFile := filepath.Join(dir, "user")
	passFile := filepath.Join(dir, "pass")
	if err := os.WriteFile(userFile, []byte("app\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(passFile, []byte("  app-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KEYWAY_TEST_PASSWORD", "default-secret")
	t.Setenv("KEYWAY_TEST_WRONG", "not-the-password")

	for _, tc := range []struct {
		name  string
		creds *keywayv1.Credentials
		want  string // reply to PING, or a prefix of the error
	}{
		{"password from env", &keywayv1.Credentials{Password: envRef("KEYWAY_TEST_PASSWORD")}, "+PONG\r\n"},
		{"ACL user from files", &keywayv1.Credentials{Username: fileRef(userFile), Password: fileRef(passFile)}, "+PONG\r\n"},
		{"wrong password", &keywayv1.Credentials{Password: envRef("KEYWAY_TEST_WRONG")}, "-ERR keyway: upstream main (" + s.Addr + ") is unavailable: auth: WRONGPASS"},
		{"no credentials", nil, "-ERR keyway: upstream main (" + s.Addr + ") is unavailable: auth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := standalone("main", s.Addr)
			u.Credentials = tc.creds
			if tc.creds == nil {
				// Without AUTH the connection opens, and Redis refuses the
				// command itself.
				tc.want = "-NOAUTH"
			}
			n := startNode(t, u, s.Addr, Options{})
			r := do(n, "main", "PING")
			if !strings.HasPrefix(string(r.Raw()), tc.want) {
				t.Fatalf("PING: %q, want prefix %q", r.Raw(), tc.want)
			}
			if strings.Contains(string(r.Raw()), "secret") || strings.Contains(string(r.Raw()), "not-the-password") {
				t.Fatalf("an error reveals a secret: %q", r.Raw())
			}
			if tc.want != "+PONG\r\n" {
				return
			}
			// A dedicated connection is logged out by RESET on release
			// and must be logged in again before reuse.
			for range 2 {
				d, err := n.Dedicated(context.Background(), "main")
				if err != nil {
					t.Fatal(err)
				}
				if got := roundTrip(t, d, "SET", "k", "v"); got != "+OK\r\n" {
					t.Fatalf("SET on a dedicated connection: %q", got)
				}
				d.Release()
			}
		})
	}
}

func TestMissingConfigurationFailsAtSetup(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KEYWAY_TEST_EMPTY", "")
	for _, tc := range []struct {
		name string
		edit func(u *keywayv1.Upstream)
		want string
	}{
		{"unset env", func(u *keywayv1.Upstream) {
			u.Credentials = &keywayv1.Credentials{Password: envRef("KEYWAY_TEST_UNSET")}
		}, "credentials: password: environment variable KEYWAY_TEST_UNSET is not set"},
		{"empty env", func(u *keywayv1.Upstream) {
			u.Credentials = &keywayv1.Credentials{Password: envRef("KEYWAY_TEST_EMPTY")}
		}, "environment variable KEYWAY_TEST_EMPTY is not set"},
		{"missing file", func(u *keywayv1.Upstream) {
			u.Credentials = &keywayv1.Credentials{Username: fileRef(filepath.Join(dir, "nope")), Password: envRef("HOME")}
		}, "credentials: username: secret file " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{"username without password", func(u *keywayv1.Upstream) {
			u.Credentials = &keywayv1.Credentials{Username: envRef("HOME")}
		}, "a username needs a password"},
		{"unreadable CA", func(u *keywayv1.Upstream) {
			u.Tls = &keywayv1.UpstreamTLS{Enabled: true, CaFile: filepath.Join(dir, "ca.pem")}
		}, "tls: read CA bundle: open " + filepath.Join(dir, "ca.pem")},
		{"missing client key", func(u *keywayv1.Upstream) {
			u.Tls = &keywayv1.UpstreamTLS{Enabled: true, CertFile: filepath.Join(dir, "c.pem"), KeyFile: filepath.Join(dir, "c.key")}
		}, "tls: load client certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := standalone("main", "127.0.0.1:1")
			tc.edit(u)
			if _, err := NewNode(u, "127.0.0.1:1", Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewNode: %v; want an error containing %q", err, tc.want)
			}
			p := NewPools(Options{}, nil)
			defer p.Close()
			if _, _, err := p.Acquire(u); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Acquire: %v; want an error containing %q", err, tc.want)
			}
		})
	}
}

// pki is a throwaway certificate authority.
type pki struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	dir  string
}

func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{key: key, cert: cert, dir: t.TempDir()}
	writePEM(t, p.path("ca.pem"), "CERTIFICATE", der)
	return p
}

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

// issue writes name.pem and name.key, a leaf certificate for 127.0.0.1.
func (p *pki) issue(t *testing.T, name string, usage x509.ExtKeyUsage) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"redis.test"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, p.path(name+".pem"), "CERTIFICATE", der)
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, p.path(name+".key"), "EC PRIVATE KEY", kb)
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTLS(t *testing.T) {
	ca := newPKI(t, "keyway test CA")
	ca.issue(t, "server", x509.ExtKeyUsageServerAuth)
	ca.issue(t, "client", x509.ExtKeyUsageClientAuth)
	other := newPKI(t, "some other CA")

	startTLS := func(authClients string) string {
		srv := redistest.Start(t,
			"tls-port "+redistest.NewPort,
			"tls-cert-file "+ca.path("server.pem"),
			"tls-key-file "+ca.path("server.key"),
			"tls-ca-cert-file "+ca.path("ca.pem"),
			"tls-auth-clients "+authClients,
		)
		return fmt.Sprintf("127.0.0.1:%d", srv.Ports["tls-port"])
	}
	open := startTLS("no")
	mutual := startTLS("yes")

	for _, tc := range []struct {
		name string
		addr string
		tls  *keywayv1.UpstreamTLS
		// Reply to PING, or a substring of the error. Without a client
		// certificate the failure shows at the first read or write,
		// depending on timing, so that case only checks who failed.
		want string
	}{
		{"trusted CA", open, &keywayv1.UpstreamTLS{Enabled: true, CaFile: ca.path("ca.pem")}, "+PONG\r\n"},
		{"server name", open, &keywayv1.UpstreamTLS{Enabled: true, CaFile: ca.path("ca.pem"), ServerName: "redis.test"}, "+PONG\r\n"},
		{"wrong server name", open, &keywayv1.UpstreamTLS{Enabled: true, CaFile: ca.path("ca.pem"), ServerName: "other.test"}, "is unavailable: tls handshake: tls: failed to verify certificate"},
		{"wrong CA", open, &keywayv1.UpstreamTLS{Enabled: true, CaFile: other.path("ca.pem")}, "is unavailable: tls handshake: tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		{"insecure", open, &keywayv1.UpstreamTLS{Enabled: true, InsecureSkipVerify: true}, "+PONG\r\n"},
		{"client certificate", mutual, &keywayv1.UpstreamTLS{Enabled: true, CaFile: ca.path("ca.pem"), CertFile: ca.path("client.pem"), KeyFile: ca.path("client.key")}, "+PONG\r\n"},
		{"client certificate missing", mutual, &keywayv1.UpstreamTLS{Enabled: true, CaFile: ca.path("ca.pem")}, "upstream secure ("},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := standalone("secure", tc.addr)
			u.Tls = tc.tls
			// Bounds, not measurements: under -race on a loaded machine a
			// TLS handshake alone has outlasted the 500 ms default.
			n := startNode(t, u, tc.addr, Options{ConnectTimeout: 15 * time.Second, Timeout: 15 * time.Second})
			r := do(n, "secure", "PING")
			if tc.want == "+PONG\r\n" {
				if string(r.Raw()) != tc.want {
					t.Fatalf("PING: %q", r.Raw())
				}
				return
			}
			if r.Kind() != engine.KindProxy || !strings.Contains(string(r.Raw()), tc.want) {
				t.Fatalf("PING: kind %v reply %q; want an error containing %q", r.Kind(), r.Raw(), tc.want)
			}
		})
	}
}
