package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/tlstest"
)

func TestClientTLSFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		err  string // substring; empty means valid
	}{
		{"off", nil, ""},
		{"cert and key", []string{"--tls-cert", "c", "--tls-key", "k"}, ""},
		{"cert without key", []string{"--tls-cert", "c"}, "go together"},
		{"tls listen without cert", []string{"--tls-listen", "127.0.0.1:1"}, "need --tls-cert"},
		{"client auth without ca", []string{"--tls-cert", "c", "--tls-key", "k", "--tls-client-auth", "require"}, "needs --tls-client-ca"},
		{"unknown client auth", []string{"--tls-cert", "c", "--tls-key", "k", "--tls-client-auth", "always"}, "none of"},
		{"require with ca", []string{"--tls-cert", "c", "--tls-key", "k", "--tls-client-ca", "ca", "--tls-client-auth", "require"}, ""},
		{"auth limits", []string{"--auth-free-failures", "3", "--auth-max-delay", "2s", "--pubsub-output-limit", "1024"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseFlags(append([]string{"--upstream", "127.0.0.1:1"}, tc.args...), io.Discard)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
			if tc.name == "auth limits" && (cfg.limits.Auth.Free != 3 || cfg.limits.Auth.MaxDelay != 2*time.Second || cfg.limits.MaxPubSubOutput != 1024) {
				t.Fatalf("limits %+v", cfg.limits)
			}
		})
	}
}

// tlsPing makes a fresh TLS connection, PINGs, and returns the serial of
// the certificate the proxy presented.
func tlsPing(addr string, ca *tlstest.CA) (int64, error) {
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool()})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return 0, err
	}
	var b [7]byte
	if _, err := io.ReadFull(c, b[:]); err != nil || string(b[:]) != "+PONG\r\n" {
		return 0, fmt.Errorf("ping: %q, %v", b, err)
	}
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), nil
}

func TestClientTLSOnListen(t *testing.T) {
	r := redistest.Start(t)
	ca := tlstest.NewCA(t, "proxy ca")
	f := ca.Write(t.TempDir(), ca.Localhost(1))
	// Polling is off in effect: only SIGHUP can reload.
	addr, admin, _ := startRun(t, "--upstream", r.Addr, "--tls-cert", f.Cert, "--tls-key", f.Key, "--tls-reload-interval", "1h")
	waitHTTP(t, "http://"+admin+"/readyz", http.StatusOK)
	rdb := redis.NewClient(&redis.Options{Addr: addr, TLSConfig: &tls.Config{RootCAs: ca.Pool()}})
	defer rdb.Close()
	if err := rdb.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatalf("set over tls: %v", err)
	}
	plain := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer plain.Close()
	if err := plain.Ping(context.Background()).Err(); err == nil {
		t.Fatal("plaintext PING answered on a TLS --listen")
	}

	tlstest.Replace(t, f, ca.Localhost(2))
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		serial, err := tlsPing(addr, ca)
		if err != nil {
			t.Fatal(err)
		}
		if serial == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serving serial %d after SIGHUP", serial)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := rdb.Get(context.Background(), "k").Err(); err != nil {
		t.Fatalf("connection from before the reload: %v", err)
	}
}

func TestClientTLSSecondListener(t *testing.T) {
	r := redistest.Start(t)
	ca := tlstest.NewCA(t, "proxy ca")
	f := ca.Write(t.TempDir(), ca.Localhost(1))
	bound, _ := startRunBound(t, "--upstream", r.Addr, "--tls-cert", f.Cert, "--tls-key", f.Key, "--tls-listen", "127.0.0.1:0")
	addr, admin, tlsAddr := bound["listen"], bound["admin"], bound["tls-listen"]
	if tlsAddr == "" || tlsAddr == "127.0.0.1:0" || tlsAddr == addr {
		t.Fatalf("ready file %v: want the bound --tls-listen address", bound)
	}
	waitHTTP(t, "http://"+admin+"/readyz", http.StatusOK)
	plain := redis.NewClient(&redis.Options{Addr: addr})
	defer plain.Close()
	if err := plain.Set(context.Background(), "both", "1", 0).Err(); err != nil {
		t.Fatalf("plaintext --listen: %v", err)
	}
	if _, err := tlsPing(tlsAddr, ca); err != nil {
		t.Fatalf("--tls-listen: %v", err)
	}
}

func TestAuthMetrics(t *testing.T) {
	r := redistest.Start(t)
	addr, admin, _ := startRun(t, "--upstream", r.Addr)
	waitHTTP(t, "http://"+admin+"/readyz", http.StatusOK)
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	// Standalone mode has no users: AUTH fails as Redis fails it.
	if err := rdb.Do(context.Background(), "AUTH", "nobody", "wrong").Err(); err == nil {
		t.Fatal("AUTH of an unknown user succeeded")
	}
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"keyway_auth_failures_total 1\n", "keyway_auth_delayed_total 0\n", "keyway_auth_refused_total 0\n", "keyway_auth_throttled_addresses 0\n"} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("/metrics lacks %q", want)
		}
	}
}
