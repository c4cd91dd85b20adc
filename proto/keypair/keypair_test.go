package keypair

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writePair writes a fresh self-signed pair named cn and stamps both
// files with mod, so a test decides what "changed" means instead of the
// file system's clock.
func writePair(t *testing.T, dir, cn string, mod time.Time) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, keyf := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	write(t, cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), mod)
	write(t, keyf, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), mod)
	return cert, keyf
}

func write(t *testing.T, path string, b []byte, mod time.Time) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mod, mod); err != nil {
		t.Fatal(err)
	}
}

func commonName(t *testing.T, f *Files) string {
	t.Helper()
	c, err := f.Get()
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.Subject.CommonName
}

func TestReloadsOnChangeAndKeepsLastGood(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Unix(1_700_000_000, 0)
	cert, key := writePair(t, dir, "first", t0)
	f, err := New(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	if cn := commonName(t, f); cn != "first" {
		t.Fatalf("CN = %q; want first", cn)
	}
	if f.Changed() {
		t.Fatal("Changed right after loading")
	}

	writePair(t, dir, "second", t0.Add(time.Second))
	if !f.Changed() {
		t.Fatal("Changed missed a rotation")
	}
	if cn := commonName(t, f); cn != "second" {
		t.Fatalf("after rotation CN = %q; want second", cn)
	}

	// A half-written rotation: the certificate is garbage for a while.
	write(t, cert, []byte("not a certificate"), t0.Add(2*time.Second))
	if cn := commonName(t, f); cn != "second" {
		t.Fatalf("with a broken certificate CN = %q; want the last good pair", cn)
	}
	// The files vanish (a secret being replaced).
	if err := os.Remove(cert); err != nil {
		t.Fatal(err)
	}
	if cn := commonName(t, f); cn != "second" {
		t.Fatalf("with the certificate gone CN = %q; want the last good pair", cn)
	}

	writePair(t, dir, "third", t0.Add(3*time.Second))
	if cn := commonName(t, f); cn != "third" {
		t.Fatalf("after recovery CN = %q; want third", cn)
	}
	hello, err := f.GetCertificate(nil)
	if err != nil || hello == nil {
		t.Fatalf("GetCertificate = %v, %v", hello, err)
	}
	if c, err := f.GetClientCertificate(nil); err != nil || c != hello {
		t.Fatalf("GetClientCertificate = %v, %v; want the same pair", c, err)
	}
}

func TestNewRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := New(filepath.Join(dir, "none.crt"), filepath.Join(dir, "none.key")); err == nil {
		t.Fatal("New took files that do not exist")
	}
	cert, key := writePair(t, dir, "x", time.Unix(1_700_000_000, 0))
	write(t, key, []byte("garbage"), time.Unix(1_700_000_001, 0))
	if _, err := New(cert, key); err == nil {
		t.Fatal("New took a key that does not parse")
	}
}

func TestLoadPool(t *testing.T) {
	dir := t.TempDir()
	cert, _ := writePair(t, dir, "ca", time.Unix(1_700_000_000, 0))
	pool, err := LoadPool(cert)
	if err != nil || pool == nil {
		t.Fatalf("LoadPool = %v, %v", pool, err)
	}
	junk := filepath.Join(dir, "junk.pem")
	write(t, junk, []byte("no pem here"), time.Unix(1_700_000_000, 0))
	if _, err := LoadPool(junk); err == nil {
		t.Fatal("LoadPool took a file without a certificate")
	}
	if _, err := LoadPool(filepath.Join(dir, "missing.pem")); err == nil {
		t.Fatal("LoadPool took a missing file")
	}
}

func TestReloadReportsAndKeepsLastGood(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Unix(1_700_000_000, 0)
	cert, key := writePair(t, dir, "first", t0)
	f, err := New(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	// Reload reads even files whose stamp did not move.
	writePair(t, dir, "second", t0)
	if err := f.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if cn := commonName(t, f); cn != "second" {
		t.Fatalf("after Reload CN = %q; want second", cn)
	}
	write(t, key, []byte("garbage"), t0.Add(time.Second))
	if err := f.Reload(); err == nil || !strings.Contains(err.Error(), "tls key pair "+cert) {
		t.Fatalf("Reload of a broken key = %v; want the pair's error", err)
	}
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	if err := f.Reload(); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Reload of a missing key = %v; want not exist", err)
	}
	if cn := commonName(t, f); cn != "second" {
		t.Fatalf("after failed reloads CN = %q; want the last good pair", cn)
	}
}
