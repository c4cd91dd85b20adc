package frontend

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/tlsconf"
	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/tlstest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// startTLSServer is startServer on a TLS listener serving files.
func startTLSServer(t *testing.T, files *tlsconf.Files) *harness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{cur: &engine.Current{}, addr: ln.Addr().String(), done: make(chan error, 1)}
	h.srv = New(Config{NodeID: "test", Current: h.cur, Limits: DefaultLimits()})
	go func() { h.done <- h.srv.Serve(tls.NewListener(ln, files.Config()), "main") }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.srv.Shutdown(ctx)
		if err := <-h.done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("serve returned %v", err)
		}
	})
	return h
}

// tlsWithRedis serves a default domain forwarding to a real redis-server
// over a TLS listener whose files are written under a temporary
// directory.
func tlsWithRedis(t *testing.T) (*harness, *tlsconf.Files, tlstest.Files, *tlstest.CA) {
	t.Helper()
	ca := tlstest.NewCA(t, "keyway test ca")
	f := ca.Write(t.TempDir(), ca.Localhost(1))
	files, err := tlsconf.NewFiles(tlsconf.Options{CertFile: f.Cert, KeyFile: f.Key})
	if err != nil {
		t.Fatal(err)
	}
	r := redistest.Start(t)
	h := startTLSServer(t, files)
	install(h.cur, "v1", map[string]engine.Engine{"default": newLeaf(t, "main", r.Addr)}, nil)
	return h, files, f, ca
}

// peerSerial makes a fresh handshake (no session resumption) and returns
// the serial of the certificate the server presented.
func peerSerial(addr string, roots *x509.CertPool) (int64, error) {
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), nil
}

func TestTLSGoRedis(t *testing.T) {
	h, _, _, ca := tlsWithRedis(t)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: h.addr, TLSConfig: &tls.Config{RootCAs: ca.Pool()}})
	defer rdb.Close()
	if err := rdb.Set(ctx, "k", "over tls", 0).Err(); err != nil {
		t.Fatalf("set: %v", err)
	}
	if v, err := rdb.Get(ctx, "k").Result(); err != nil || v != "over tls" {
		t.Fatalf("get = %q, %v", v, err)
	}
	plain := dialRaw(t, h.addr)
	plain.send("*1\r\n$4\r\nPING\r\n")
	if !plain.closed() {
		t.Fatal("a plaintext client was served on a TLS listener")
	}
}

func TestTLSRedisCLI(t *testing.T) {
	h, _, f, _ := tlsWithRedis(t)
	host, port, _ := net.SplitHostPort(h.addr)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"SET", "cli", "yes"}, "OK"},
		{[]string{"GET", "cli"}, "yes"},
		{[]string{"PING"}, "PONG"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := append([]string{"--tls", "--cacert", f.CA, "-h", host, "-p", port}, tc.args...)
			out, err := exec.Command("redis-cli", args...).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != tc.want {
				t.Fatalf("redis-cli %v: %q, %v", tc.args, out, err)
			}
		})
	}
}

// TestTLSRotationUnderLoad replaces the certificate files while clients
// hammer the proxy over TLS, some of them handshaking anew all the time;
// no request fails, new handshakes get the new certificate, and
// connections made before keep working.
func TestTLSRotationUnderLoad(t *testing.T) {
	h, files, f, ca := tlsWithRedis(t)
	roots := ca.Pool()
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { files.Watch(ctx, 10*time.Millisecond, nil) })

	before, err := tls.Dial("tcp", h.addr, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	old := &rawConn{t: t, c: before}
	old.rd = bufio.NewReader(before)
	if got := old.cmd("PING"); got != "+PONG\r\n" {
		t.Fatalf("ping before rotation: %q", got)
	}

	var ops, failures atomic.Int64
	var firstErr atomic.Value
	fail := func(err error) {
		failures.Add(1)
		firstErr.CompareAndSwap(nil, err)
	}
	for i := range 4 {
		rdb := redis.NewClient(&redis.Options{Addr: h.addr, PoolSize: 2, TLSConfig: &tls.Config{RootCAs: roots}})
		defer rdb.Close()
		wg.Go(func() {
			key := fmt.Sprint("load", i)
			for ctx.Err() == nil {
				if err := rdb.Incr(context.Background(), key).Err(); err != nil {
					fail(err)
				}
				ops.Add(1)
			}
		})
	}
	wg.Go(func() { // a new connection for every request
		for ctx.Err() == nil {
			if _, err := peerSerial(h.addr, roots); err != nil {
				fail(err)
			}
			ops.Add(1)
		}
	})

	waitFor(t, "load running", func() error {
		if ops.Load() < 100 {
			return errors.New("fewer than 100 requests so far")
		}
		return nil
	})
	tlstest.Replace(t, f, ca.Localhost(2))
	waitFor(t, "new certificate served", func() error {
		serial, err := peerSerial(h.addr, roots)
		if err != nil {
			return err
		}
		if serial != 2 {
			return fmt.Errorf("serial %d", serial)
		}
		return nil
	})
	mark := ops.Load()
	waitFor(t, "load after rotation", func() error {
		if ops.Load() < mark+100 {
			return errors.New("fewer than 100 requests since the rotation")
		}
		return nil
	})
	stop()
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed during rotation, first: %v", n, ops.Load(), firstErr.Load())
	}
	if got := old.cmd("PING"); got != "+PONG\r\n" {
		t.Fatalf("connection from before the rotation: %q", got)
	}
	if s := before.ConnectionState().PeerCertificates[0].SerialNumber.Int64(); s != 1 {
		t.Fatalf("old connection's certificate serial %d, want 1", s)
	}
	if s := files.Certificate().SerialNumber.Int64(); s != 2 {
		t.Fatalf("current certificate serial %d, want 2", s)
	}
}

func TestTLSBadReloadKeepsServing(t *testing.T) {
	h, files, f, ca := tlsWithRedis(t)
	tests := []struct {
		name  string
		write func()
	}{
		{"key of another certificate", func() { tlstest.WriteFile(t, f.Key, ca.Localhost(7).Key) }},
		{"garbage certificate", func() { tlstest.WriteFile(t, f.Cert, []byte("not pem")) }},
		{"missing key", func() {
			if err := os.Remove(f.Key); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.write()
			tried, err := files.ReloadIfChanged()
			if !tried || err == nil {
				t.Fatalf("reload tried %v, err %v; want a failed reload", tried, err)
			}
			if tried, _ := files.ReloadIfChanged(); tried {
				t.Fatal("an unchanged broken file was loaded again")
			}
			if s, err := peerSerial(h.addr, ca.Pool()); err != nil || s != 1 {
				t.Fatalf("handshake after a failed reload: serial %d, %v", s, err)
			}
		})
	}
}

func TestTLSClientCertificateIdentity(t *testing.T) {
	ca := tlstest.NewCA(t, "clients and servers")
	f := ca.Write(t.TempDir(), ca.Localhost(1))
	stranger := tlstest.NewCA(t, "someone else")
	proxy := &keywayv1.ProxyConfig{
		Identity: &keywayv1.Identity{
			DefaultDomain: "default",
			Users:         []*keywayv1.User{{Name: "pay", PasswordSha256: []string{sha("pw")}, Domain: "by-auth"}},
			ClientNames:   []*keywayv1.NameRule{{Match: "search-", Domain: "by-name"}},
			Certificates: []*keywayv1.NameRule{
				{Match: "payments-svc", Domain: "payments"},
				{Match: "spiffe://keyway/ns/search", Domain: "search"},
				{Match: "batch.internal", Domain: "batch"},
			},
		},
		Listeners: []*keywayv1.Listener{{Name: "main", Domain: "edge"}},
	}
	roots := map[string]engine.Engine{}
	for _, d := range []string{"default", "by-auth", "by-name", "payments", "search", "batch", "edge"} {
		roots[d] = domainEngine(d)
	}
	serve := func(t *testing.T, auth tlsconf.ClientAuth) *harness {
		files, err := tlsconf.NewFiles(tlsconf.Options{CertFile: f.Cert, KeyFile: f.Key, ClientCAFile: f.CA, ClientAuth: auth})
		if err != nil {
			t.Fatal(err)
		}
		h := startTLSServer(t, files)
		install(h.cur, "v1", roots, proxy)
		return h
	}
	cert := func(l tlstest.Leaf) []tls.Certificate {
		l.Client = true
		return []tls.Certificate{ca.Issue(l).TLS(t)}
	}
	tests := []struct {
		name  string
		auth  tlsconf.ClientAuth
		certs []tls.Certificate
		setup [][]string
		want  string
	}{
		{"common name", tlsconf.ClientAuthRequire, cert(tlstest.Leaf{CN: "payments-svc"}), nil, "payments"},
		{"uri san", tlsconf.ClientAuthRequire, cert(tlstest.Leaf{CN: "pod-7", URIs: []string{"spiffe://keyway/ns/search"}}), nil, "search"},
		{"dns san", tlsconf.ClientAuthRequire, cert(tlstest.Leaf{DNS: []string{"batch.internal"}}), nil, "batch"},
		{"no rule: listener", tlsconf.ClientAuthRequire, cert(tlstest.Leaf{CN: "unknown"}), nil, "edge"},
		{"auth wins", tlsconf.ClientAuthRequire, cert(tlstest.Leaf{CN: "payments-svc"}), [][]string{{"AUTH", "pay", "pw"}}, "by-auth"},
		{"certificate beats client name", tlsconf.ClientAuthRequire, cert(tlstest.Leaf{CN: "payments-svc"}), [][]string{{"CLIENT", "SETNAME", "search-1"}}, "payments"},
		{"request without certificate", tlsconf.ClientAuthRequest, nil, nil, "edge"},
		{"request with certificate", tlsconf.ClientAuthRequest, cert(tlstest.Leaf{CN: "payments-svc"}), nil, "payments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := serve(t, tc.auth)
			conn, err := tls.Dial("tcp", h.addr, &tls.Config{RootCAs: ca.Pool(), Certificates: tc.certs})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			c := &rawConn{t: t, c: conn, rd: bufio.NewReader(conn)}
			for _, s := range tc.setup {
				if got := c.cmd(s...); got[0] == '-' {
					t.Fatalf("%v: %q", s, got)
				}
			}
			want := fmt.Sprintf("$%d\r\n%s\r\n", len(tc.want), tc.want)
			if got := c.cmd("GET", "k"); got != want {
				t.Fatalf("domain reply %q, want %q", got, want)
			}
		})
	}
	refused := []struct {
		name  string
		certs []tls.Certificate
	}{
		{"no certificate", nil},
		{"certificate of another ca", []tls.Certificate{stranger.Issue(tlstest.Leaf{CN: "payments-svc", Client: true}).TLS(t)}},
	}
	for _, tc := range refused {
		t.Run("require refuses "+tc.name, func(t *testing.T) {
			h := serve(t, tlsconf.ClientAuthRequire)
			conn, err := tls.Dial("tcp", h.addr, &tls.Config{RootCAs: ca.Pool(), Certificates: tc.certs})
			if err == nil {
				// TLS 1.3 clients learn of the refusal at their first read.
				defer conn.Close()
				_, _ = conn.Write([]byte("*1\r\n$4\r\nPING\r\n"))
				_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
				var b [64]byte
				n, rerr := conn.Read(b[:])
				if rerr == nil {
					t.Fatalf("served %q without a valid client certificate", b[:n])
				}
			}
		})
	}
}
