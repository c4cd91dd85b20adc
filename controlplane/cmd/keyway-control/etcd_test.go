package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keyway.dev/controlplane/etcdtest"
	"keyway.dev/proto/certtest"
)

// The etcd flags refuse combinations that cannot work before anything
// is dialled, and a secured etcd that refuses the client stops the start
// with exit 1 and what to check.
func TestEtcdFlags(t *testing.T) {
	e := etcdtest.StartSecure(t)
	other := certtest.NewCA(t, "other-ca").Client(t, "stranger")
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte(e.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ep := strings.Join(e.Endpoints, ",")
	// An endpoint where something accepts and hangs up at once: an etcd
	// that does not answer.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	silent := "http://" + ln.Addr().String()
	base := []string{"--listen", "127.0.0.1:0", "--render", "inprocess", "--data-dir", filepath.Join(dir, "data")}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"tls without endpoints", []string{"--etcd-ca", e.CA.CertFile}, 2, "need --etcd-endpoints"},
		{"https without ca", []string{"--etcd-endpoints", ep}, 2, "is https; set --etcd-ca"},
		{"cert without key", []string{"--etcd-endpoints", ep, "--etcd-ca", e.CA.CertFile, "--etcd-cert", e.Client.CertFile}, 2, "needs its key"},
		{"missing ca file", []string{"--etcd-endpoints", ep, "--etcd-ca", filepath.Join(dir, "nope.pem")}, 2, "read CA bundle"},
		{"password without user", []string{"--etcd-endpoints", ep, "--etcd-ca", e.CA.CertFile, "--etcd-password-file", pw}, 2, "--etcd-password-file needs --etcd-username"},
		{"empty password file", []string{"--etcd-endpoints", ep, "--etcd-ca", e.CA.CertFile, "--etcd-username", "keyway", "--etcd-password-file", empty}, 2, "is empty"},
		{"negative start wait", []string{"--etcd-endpoints", ep, "--etcd-ca", e.CA.CertFile, "--etcd-start-wait", "-1s"}, 2, "--etcd-start-wait: -1s is negative"},
		{"etcd that does not answer", []string{"--etcd-endpoints", silent, "--etcd-start-wait", "1s"}, 1, "no etcd endpoint answered"},
		{"refused certificate", []string{"--etcd-endpoints", ep, "--etcd-ca", e.CA.CertFile, "--etcd-cert", other.CertFile, "--etcd-key", other.KeyFile,
			"--etcd-username", e.Username, "--etcd-password-file", pw}, 1, "TLS with etcd failed"},
		{"wrong user", []string{"--etcd-endpoints", ep, "--etcd-ca", e.CA.CertFile, "--etcd-cert", e.Client.CertFile, "--etcd-key", e.Client.KeyFile,
			"--etcd-username", "mallory", "--etcd-password-file", pw}, 1, `etcd refused user "mallory"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := realMain(append(append([]string{}, base...), tc.args...), &stdout, &stderr, func(string) string { return "" })
			if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr.String(), tc.code, tc.want)
			}
		})
	}
}
