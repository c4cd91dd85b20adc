package store_test

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"keyway.dev/controlplane/auth"
	"keyway.dev/controlplane/etcdtest"
	"keyway.dev/controlplane/store"
	"keyway.dev/proto/certtest"
)

func clientTLS(t *testing.T, ca, cert, key string) *tls.Config {
	t.Helper()
	c, err := auth.ClientTLS(ca, cert, key)
	if err != nil {
		t.Fatalf("client tls: %v", err)
	}
	return c
}

// A production etcd (TLS, client certificates, users) serves the store
// when given the CA, a certificate it trusts and a user with readwrite on
// /keyway/.
func TestExternalSecureEtcd(t *testing.T) {
	e := etcdtest.StartSecure(t)
	s, err := store.Open(store.Config{
		Endpoints: e.Endpoints,
		TLS:       clientTLS(t, e.CA.CertFile, e.Client.CertFile, e.Client.KeyFile),
		Username:  e.Username,
		Password:  e.Password,
		OpTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Close()
	rec, err := s.Push(context.Background(), store.Push{Bundle: bundle("a"), Rendered: policy("a"), Author: "ann", Message: "a"})
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	got, err := s.Get(context.Background(), rec.GetVersion())
	if err != nil || got.GetVersion() != 1 {
		t.Fatalf("get v1 = %v, %v", got, err)
	}
}

// Every way of being refused by a secured etcd stops Open with an error
// naming what to check, not a timeout on the first push.
func TestExternalSecureEtcdRefusals(t *testing.T) {
	e := etcdtest.StartSecure(t)
	other := certtest.NewCA(t, "other-ca")
	stranger := other.Client(t, "stranger")
	tests := []struct {
		name string
		cfg  store.Config
		want string
	}{
		{
			name: "certificate from another CA",
			cfg:  store.Config{TLS: clientTLS(t, e.CA.CertFile, stranger.CertFile, stranger.KeyFile), Username: e.Username, Password: e.Password},
			want: "TLS with etcd failed",
		},
		{
			name: "no client certificate",
			cfg:  store.Config{TLS: clientTLS(t, e.CA.CertFile, "", ""), Username: e.Username, Password: e.Password},
			want: "TLS with etcd failed",
		},
		{
			name: "server not trusted",
			cfg:  store.Config{TLS: clientTLS(t, other.CertFile, e.Client.CertFile, e.Client.KeyFile), Username: e.Username, Password: e.Password},
			want: "TLS with etcd failed",
		},
		{
			name: "wrong password",
			cfg:  store.Config{TLS: clientTLS(t, e.CA.CertFile, e.Client.CertFile, e.Client.KeyFile), Username: e.Username, Password: "nope"},
			want: `etcd refused user "keyway": wrong username or password`,
		},
		{
			name: "password without user",
			cfg:  store.Config{TLS: clientTLS(t, e.CA.CertFile, e.Client.CertFile, e.Client.KeyFile), Password: "nope"},
			want: "a password needs a username",
		},
		{
			// The certificate's CN is no etcd user, so etcd has nobody to
			// check permissions for.
			name: "no user",
			cfg:  store.Config{TLS: clientTLS(t, e.CA.CertFile, e.Client.CertFile, e.Client.KeyFile)},
			want: "etcd knows no user for this client",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Endpoints = e.Endpoints
			// A bound, not a measurement: under -race on a loaded machine
			// etcd's bcrypt check of a password alone can take seconds,
			// and a refusal must arrive as a refusal, not as a timeout.
			tt.cfg.OpTimeout = 30 * time.Second
			s, err := store.Open(tt.cfg)
			if err == nil {
				s.Close()
				t.Fatal("open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v\nwant it to contain %q", err, tt.want)
			}
			t.Logf("%v", err)
		})
	}
}
