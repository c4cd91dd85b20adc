package store_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
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
			// A refusal is final: were it taken for an etcd that did not
			// answer, Open would wait the hour and the test time out.
			tt.cfg.StartWait = time.Hour
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

// relay is a loopback TCP listener that closes every connection until
// To names where to forward them: an etcd that is away, then back.
type relay struct {
	ln              net.Listener
	mu              sync.Mutex
	network, target string
}

func newRelay(t *testing.T) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			network, target := r.network, r.target
			r.mu.Unlock()
			if target == "" {
				c.Close()
				continue
			}
			go forward(c, network, target)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return r
}

func (r *relay) To(network, target string) {
	r.mu.Lock()
	r.network, r.target = network, target
	r.mu.Unlock()
}

func forward(c net.Conn, network, target string) {
	defer c.Close()
	up, err := net.Dial(network, target)
	if err != nil {
		return
	}
	defer up.Close()
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
}

// lines is a slog handler's output, counted by message.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lines) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), msg)
}

// An etcd that does not answer at start is tried again for StartWait,
// with a line per try, and then refused with the reason.
func TestExternalEtcdUnanswered(t *testing.T) {
	ca := certtest.NewCA(t, "etcd-ca")
	for _, tc := range []struct {
		name   string
		scheme string
		tls    *tls.Config
		want   string
	}{
		{"plain", "http://", nil, "no etcd endpoint answered"},
		// With TLS the probe's handshake is what finds nobody there.
		{"tls", "https://", clientTLS(t, ca.CertFile, "", ""), "no etcd endpoint accepted a connection"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRelay(t) // never forwards: every connection is closed at once
			var log lines
			_, err := store.Open(store.Config{
				Endpoints: []string{tc.scheme + r.ln.Addr().String()},
				TLS:       tc.tls,
				OpTimeout: 300 * time.Millisecond,
				StartWait: time.Second,
				Logger:    slog.New(slog.NewTextHandler(&log, nil)),
			})
			if err == nil || !strings.Contains(err.Error(), "connect to etcd") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want the reason an unanswered etcd gets (%q)", err, tc.want)
			}
			if n := log.count("etcd does not answer yet"); n == 0 {
				t.Fatalf("no try was logged before giving up:\n%s", log.buf.String())
			}
		})
	}
}

// A control plane started while its etcd is away waits for it and opens
// once it is back.
func TestExternalEtcdWaitedFor(t *testing.T) {
	r := newRelay(t)
	var log lines
	type opened struct {
		s   *store.Store
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		s, err := store.Open(store.Config{
			Endpoints: []string{"http://" + r.ln.Addr().String()},
			OpTimeout: 300 * time.Millisecond,
			StartWait: 10 * time.Minute,
			Logger:    slog.New(slog.NewTextHandler(&log, nil)),
		})
		ch <- opened{s, err}
	}()
	for log.count("etcd does not answer yet") == 0 {
		select {
		case o := <-ch:
			t.Fatalf("Open returned before etcd was back: %v", o.err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	e := etcdtest.Start(t) // on a unix socket
	u, err := url.Parse(e.Endpoints()[0])
	if err != nil || u.Scheme != "unix" {
		t.Fatalf("embedded etcd at %q (%v), want a unix socket", e.Endpoints()[0], err)
	}
	r.To("unix", u.Path)
	o := <-ch
	if o.err != nil {
		t.Fatalf("Open after etcd came back: %v", o.err)
	}
	defer o.s.Close()
	if _, err := o.s.Client().Put(context.Background(), "/keyway/waited", "yes"); err != nil {
		t.Fatalf("put through the store that waited: %v", err)
	}
	if log.count("etcd answers") != 1 {
		t.Errorf("the return of etcd was not logged:\n%s", log.buf.String())
	}
}
