package frontend

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
)

func TestMalformedClosesOnlyThatClient(t *testing.T) {
	h, _ := withRedis(t, DefaultLimits())
	good := dialRaw(t, h.addr)
	if got := good.cmd("SET", "k", "v"); got != "+OK\r\n" {
		t.Fatalf("set = %q", got)
	}
	tests := []struct{ name, in, want string }{
		{"bad bulk length", "*1\r\n$x\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"missing dollar", "*1\r\n:1\r\n", "-ERR Protocol error: expected '$', got ':'\r\n"},
		{"after a good command", "*1\r\n$4\r\nPING\r\n*1\r\n!x\r\n", "+PONG\r\n-ERR Protocol error: expected '$', got '!'\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := dialRaw(t, h.addr)
			bad.send(tc.in)
			var got strings.Builder
			for range strings.Count(tc.want, "\r\n") {
				got.WriteString(bad.reply())
			}
			if got.String() != tc.want {
				t.Fatalf("got %q, want %q", got.String(), tc.want)
			}
			if !bad.closed() {
				t.Fatal("bad client still open")
			}
			if got := good.cmd("GET", "k"); got != "$1\r\nv\r\n" {
				t.Fatalf("other client got %q", got)
			}
		})
	}
}

func TestOversizedRequestRefused(t *testing.T) {
	l := DefaultLimits()
	l.MaxBulkLen = 1 << 20
	l.MaxArgs = 8
	l.MaxQueryBuffer = 4096
	h, _ := withRedis(t, l)
	tests := []struct{ name, in, want string }{
		// Only the header is sent: the refusal must not wait for a body.
		{"bulk header", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"argument count", "*9\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"request size", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$8000\r\n" + strings.Repeat("x", 5000), "-ERR Protocol error: too big request\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, h.addr)
			c.send(tc.in)
			if got := c.reply(); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if !c.closed() {
				t.Fatal("connection still open")
			}
		})
	}
}

func TestMaxClients(t *testing.T) {
	l := DefaultLimits()
	l.MaxClients = 2
	h, _ := withRedis(t, l)
	a, b := dialRaw(t, h.addr), dialRaw(t, h.addr)
	for _, c := range []*rawConn{a, b} {
		if got := c.cmd("PING"); got != "+PONG\r\n" {
			t.Fatalf("ping = %q", got)
		}
	}
	third := dialRaw(t, h.addr)
	if got := third.reply(); got != "-ERR max number of clients reached\r\n" {
		t.Fatalf("third got %q", got)
	}
	if !third.closed() {
		t.Fatal("third still open")
	}
	if got := a.cmd("PING"); got != "+PONG\r\n" {
		t.Fatalf("first client after refusal: %q", got)
	}
}

// waitClients waits until the server has n clients; it polls because a
// close is observed by the server asynchronously.
func waitClients(t *testing.T, s *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for s.Clients() != n {
		if time.Now().After(deadline) {
			t.Fatalf("clients = %d, want %d", s.Clients(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSlowReaderIsClosed(t *testing.T) {
	value := strings.Repeat("v", 64<<10)
	tests := []struct {
		name   string
		limits func(*Limits)
	}{
		{"output limit", func(l *Limits) { l.MaxOutputBuffer = 1 << 20; l.WriteTimeout = 0 }},
		{"write timeout", func(l *Limits) { l.MaxOutputBuffer = 0; l.WriteTimeout = 100 * time.Millisecond }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := DefaultLimits()
			tc.limits(&l)
			h, _ := withRedis(t, l)
			other := dialRaw(t, h.addr)
			if got := other.cmd("SET", "big", value); got != "+OK\r\n" {
				t.Fatalf("set = %q", got)
			}
			slow := dialRaw(t, h.addr)
			// 2000 replies of 64 KiB: far more than socket buffers hold.
			go func() {
				for range 2000 {
					if _, err := slow.c.Write([]byte("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n")); err != nil {
						return
					}
				}
			}()
			waitClients(t, h.srv, 1) // the slow reader is gone
			if got := other.cmd("PING"); got != "+PONG\r\n" {
				t.Fatalf("other client: %q", got)
			}
		})
	}
}

func TestShutdownFinishesInFlight(t *testing.T) {
	h := startServer(t, DefaultLimits())
	entered, release := make(chan struct{}), make(chan struct{})
	install(h.cur, "v1", map[string]engine.Engine{"default": engine.Func(func(_ context.Context, b engine.Batch) {
		close(entered)
		<-release
		for _, r := range b {
			r.Reply([]byte("+done\r\n"))
		}
	})}, nil)
	busy, idle := dialRaw(t, h.addr), dialRaw(t, h.addr)
	// ECHO, not PING: the proxy asks the tree for PING, and this tree
	// serves one batch only.
	if got := idle.cmd("ECHO", "hi"); got != "$2\r\nhi\r\n" {
		t.Fatalf("echo = %q", got)
	}
	busy.send("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
	<-entered
	done := make(chan error, 1)
	go func() { done <- h.srv.Shutdown(context.Background()) }()
	if !idle.closed() {
		t.Fatal("idle connection not closed by shutdown")
	}
	if h.srv.Ready() {
		t.Fatal("ready while draining")
	}
	close(release)
	if got := busy.reply(); got != "+done\r\n" {
		t.Fatalf("in-flight reply = %q", got)
	}
	if !busy.closed() {
		t.Fatal("busy connection not closed after its batch")
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func TestShutdownDeadline(t *testing.T) {
	h := startServer(t, DefaultLimits())
	release := make(chan struct{})
	defer close(release)
	entered := make(chan struct{})
	install(h.cur, "v1", map[string]engine.Engine{"default": engine.Func(func(ctx context.Context, b engine.Batch) {
		close(entered)
		select {
		case <-release:
		case <-ctx.Done():
		}
		for _, r := range b {
			r.Fail(engine.KindProxy, ctx.Err())
		}
	})}, nil)
	c := dialRaw(t, h.addr)
	c.send("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.srv.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("shutdown = %v", err)
	}
	if !c.closed() {
		t.Fatal("connection survived a forced shutdown")
	}
}
