package redistest

import (
	"errors"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestStartSetGet(t *testing.T) {
	s := Start(t)
	if got := s.Do("SET", "k", "hello"); got != "+OK" {
		t.Fatalf("SET = %q", got)
	}
	if got := s.Do("GET", "k"); got != "hello" {
		t.Fatalf("GET = %q, want hello", got)
	}
	if got := s.Do("GET", "missing"); got != "$-1" {
		t.Fatalf("GET missing = %q, want $-1", got)
	}
}

func TestRestartKeepsWhatWasPersisted(t *testing.T) {
	s := Start(t, "appendonly yes", "appendfsync always")
	if got := s.Do("SET", "k", "v"); got != "+OK" {
		t.Fatalf("SET = %q", got)
	}
	s.Kill()
	s.Restart()
	if got := s.Do("GET", "k"); got != "v" {
		t.Fatalf("GET after a kill and restart = %q; want the value written before", got)
	}
}

// DeadAddr refuses connections at once and cannot be listened on by
// anyone else while the test runs.
func TestDeadAddr(t *testing.T) {
	addr := DeadAddr(t)
	if _, err := net.DialTimeout("tcp", addr, 5*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: %v, want connection refused", addr, err)
	}
	if ln, err := net.Listen("tcp", addr); err == nil {
		_ = ln.Close()
		t.Fatalf("listened on %s, which DeadAddr holds", addr)
	}
	if other := DeadAddr(t); other == addr {
		t.Fatalf("two DeadAddr calls gave %s", addr)
	}
}

// A config line given NewPort gets a port of its own, which the server
// really uses and Ports reports.
func TestNewPort(t *testing.T) {
	s := Start(t, "cluster-enabled yes", "cluster-config-file nodes.conf", "cluster-port "+NewPort)
	got := s.Ports["cluster-port"]
	if got == 0 || got == s.Port {
		t.Fatalf("Ports = %v (main port %d), want a cluster-port of its own", s.Ports, s.Port)
	}
	// The cluster bus listens there.
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(got))
	if err != nil {
		t.Fatalf("dial the cluster bus on %d: %v", got, err)
	}
	_ = c.Close()
}
