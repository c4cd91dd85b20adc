package integration

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/tlstest"
	"keyway.dev/integration/harness"
)

// tlsSetup is a keyway-proxy speaking TLS to its clients (client
// certificates verified when given) and to a redis-server that accepts
// only TLS on the port the policy names.
type tlsSetup struct {
	ca      *tlstest.CA
	files   tlstest.Files // the proxy's certificate, replaced to rotate it
	proxy   *harness.Proxy
	secure  *redistest.Server
	plain   *redistest.Server
	tlsPort int
}

func startTLSSetup(t *testing.T) *tlsSetup {
	t.Helper()
	ca := tlstest.NewCA(t, "keyway integration ca")
	// redis-server's own certificate, from the same CA.
	redisFiles := ca.Write(t.TempDir(), ca.Localhost(100))
	secure := redistest.Start(t,
		"tls-port "+redistest.NewPort,
		"tls-cert-file "+redisFiles.Cert,
		"tls-key-file "+redisFiles.Key,
		"tls-ca-cert-file "+redisFiles.CA,
		"tls-auth-clients no",
	)
	plain := redistest.Start(t)
	proxyFiles := ca.Write(t.TempDir(), ca.Localhost(1))
	dir := harness.WritePolicy(t, map[string]string{"main.star": fmt.Sprintf(`
secure = redis("secure", address = "127.0.0.1:%d", tls = tls(ca_file = %q, server_name = "localhost"))
plain = redis("plain", address = %q)
domain("default", secure)
domain("payments", plain)
identity(default_domain = "default", certificates = {"payments-svc": "payments"})
`, secure.Ports["tls-port"], redisFiles.CA, plain.Addr)})
	p := harness.StartProxy(t, "tls-proxy", "",
		"--policy", dir,
		"--tls-cert", proxyFiles.Cert, "--tls-key", proxyFiles.Key,
		"--tls-client-ca", proxyFiles.CA, "--tls-client-auth", "request",
		"--tls-reload-interval", "100ms")
	harness.Eventually(t, 30*time.Second, "proxy ready", p.Ready)
	return &tlsSetup{ca: ca, files: proxyFiles, proxy: p, secure: secure, plain: plain, tlsPort: secure.Ports["tls-port"]}
}

func (s *tlsSetup) client(t *testing.T, certs ...tls.Certificate) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.proxy.Addr, MaxRetries: -1, PoolSize: 2,
		TLSConfig: &tls.Config{RootCAs: s.ca.Pool(), Certificates: certs}})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// serial makes a fresh handshake with the proxy and returns the serial
// of the certificate it presented.
func (s *tlsSetup) serial() (int64, error) {
	c, err := tls.Dial("tcp", s.proxy.Addr, &tls.Config{RootCAs: s.ca.Pool()})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), nil
}

func TestTLSEndToEnd(t *testing.T) {
	s := startTLSSetup(t)
	ctx := context.Background()

	t.Run("go-redis over tls to an upstream over tls", func(t *testing.T) {
		rdb := s.client(t)
		if err := rdb.Set(ctx, "tls:k", "v1", 0).Err(); err != nil {
			t.Fatalf("set: %v", err)
		}
		if got := s.secure.Do("GET", "tls:k"); got != "v1" {
			t.Fatalf("redis behind tls has %q", got)
		}
		if v, err := rdb.Get(ctx, "tls:k").Result(); err != nil || v != "v1" {
			t.Fatalf("get = %q, %v", v, err)
		}
	})

	t.Run("redis-cli --tls", func(t *testing.T) {
		host, port, _ := net.SplitHostPort(s.proxy.Addr)
		out, err := exec.Command("redis-cli", "--tls", "--cacert", s.files.CA, "-h", host, "-p", port, "GET", "tls:k").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "v1" {
			t.Fatalf("redis-cli: %q, %v", out, err)
		}
	})

	t.Run("client certificate picks the domain", func(t *testing.T) {
		cert := s.ca.Issue(tlstest.Leaf{CN: "payments-svc", Client: true}).TLS(t)
		rdb := s.client(t, cert)
		if err := rdb.Set(ctx, "pay:1", "paid", 0).Err(); err != nil {
			t.Fatalf("set: %v", err)
		}
		if got := s.plain.Do("GET", "pay:1"); got != "paid" {
			t.Fatalf("payments redis has %q", got)
		}
		if got := s.secure.Do("EXISTS", "pay:1"); got != ":0" {
			t.Fatalf("default redis has the payments key: %q", got)
		}
	})

	t.Run("pub/sub over tls", func(t *testing.T) {
		rdb := s.client(t)
		ps := rdb.Subscribe(ctx, "tls-news")
		defer ps.Close()
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatalf("subscribe: %v", err)
		}
		if n, err := s.client(t).Publish(ctx, "tls-news", "hello").Result(); err != nil || n != 1 {
			t.Fatalf("publish: %d, %v", n, err)
		}
		select {
		case m := <-ps.Channel():
			if m.Payload != "hello" {
				t.Fatalf("message %q", m.Payload)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("message never arrived")
		}
	})
}

// TestTLSRotationUnderLoad replaces the proxy's certificate and key on
// disk while clients keep working; the proxy notices by itself, new
// handshakes see the new certificate and no request fails.
func TestTLSRotationUnderLoad(t *testing.T) {
	s := startTLSSetup(t)
	before := s.client(t)
	ctx := context.Background()
	if err := before.Set(ctx, "rot:old", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if serial, err := s.serial(); err != nil || serial != 1 {
		t.Fatalf("serial before rotation %d, %v", serial, err)
	}

	loadCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var ops, failures atomic.Int64
	var firstErr atomic.Value
	fail := func(err error) {
		failures.Add(1)
		firstErr.CompareAndSwap(nil, err)
	}
	for i := range 4 {
		rdb := s.client(t)
		wg.Go(func() {
			key := fmt.Sprint("rot:", i)
			for loadCtx.Err() == nil {
				if err := rdb.Incr(ctx, key).Err(); err != nil {
					fail(err)
				}
				ops.Add(1)
			}
		})
	}
	wg.Go(func() { // a new handshake for every request
		for loadCtx.Err() == nil {
			if _, err := s.serial(); err != nil {
				fail(err)
			}
			ops.Add(1)
		}
	})
	defer func() { stop(); wg.Wait() }()

	harness.Eventually(t, 20*time.Second, "load running", func() error {
		if ops.Load() < 100 {
			return errors.New("fewer than 100 requests so far")
		}
		return nil
	})
	tlstest.Replace(t, s.files, s.ca.Localhost(2))
	harness.Eventually(t, 30*time.Second, "new certificate served", func() error {
		serial, err := s.serial()
		if err != nil {
			return err
		}
		if serial != 2 {
			return fmt.Errorf("still serial %d", serial)
		}
		return nil
	})
	mark := ops.Load()
	harness.Eventually(t, 20*time.Second, "load after rotation", func() error {
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
	if v, err := before.Get(ctx, "rot:old").Result(); err != nil || v != "1" {
		t.Fatalf("client from before the rotation: %q, %v", v, err)
	}
	harness.Contains(t, "proxy log", s.proxy.Log(), "client tls reloaded")
}
