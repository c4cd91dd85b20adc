package upstream

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"keyway.dev/dataplane/redistest"
)

func args(a ...string) [][]byte {
	out := make([][]byte, len(a))
	for i, s := range a {
		out[i] = []byte(s)
	}
	return out
}

// roundTrip sends one command on d and returns its reply.
func roundTrip(t *testing.T, d *Dedicated, a ...string) string {
	t.Helper()
	if err := d.Send(args(a...)); err != nil {
		t.Fatalf("send %v: %v", a, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	frame, err := d.Next(ctx)
	if err != nil {
		t.Fatalf("reply to %v: %v", a, err)
	}
	return string(frame)
}

func TestDedicatedPoolExhausted(t *testing.T) {
	s := redistest.Start(t)
	n := startNode(t, standalone("main", s.Addr), s.Addr, Options{DedicatedMax: 2, DedicatedIdle: 1})
	ctx := context.Background()
	a, err := n.Dedicated(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.Dedicated(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Dedicated(ctx, "main")
	want := "ERR keyway: no dedicated connection available for upstream main (limit 2)"
	if err == nil || err.Error() != want || !errors.Is(err, ErrNoDedicated) {
		t.Fatalf("third Dedicated: %v; want %q", err, want)
	}
	a.Release()
	c, err := n.Dedicated(ctx, "main")
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if got := roundTrip(t, c, "PING"); got != "+PONG\r\n" {
		t.Fatalf("reused connection: %q", got)
	}
	b.Release()
	c.Release()
	// Only DedicatedIdle connections stay open once released.
	if st := n.Stats(); st.Dedicated != 1 || st.DedicatedIdle != 1 {
		t.Fatalf("after releases: %d open, %d idle; want 1 and 1", st.Dedicated, st.DedicatedIdle)
	}
}

func TestDedicatedSubscribe(t *testing.T) {
	s := redistest.Start(t)
	n := startNode(t, standalone("main", s.Addr), s.Addr, Options{DedicatedIdle: 1})
	d, err := n.Dedicated(context.Background(), "main")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := roundTrip(t, d, "SUBSCRIBE", "news"), "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"; got != want {
		t.Fatalf("SUBSCRIBE reply %q, want %q", got, want)
	}
	// A wait cut short by its context leaves the connection usable.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	if _, err := d.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with nothing to read: %v; want deadline exceeded", err)
	}
	cancel()
	if got := s.Do("PUBLISH", "news", "hello"); got != ":1" {
		t.Fatalf("PUBLISH: %q", got)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	frame, err := d.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"; string(frame) != want {
		t.Fatalf("message %q, want %q", frame, want)
	}
	// Release resets the connection: the next user is not subscribed.
	d.Release()
	d, err = n.Dedicated(context.Background(), "main")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	if got := roundTrip(t, d, "PING"); got != "+PONG\r\n" {
		t.Fatalf("PING on the reused connection: %q (still subscribed?)", got)
	}
	if got := s.Do("PUBLISH", "news", "again"); got != ":0" {
		t.Fatalf("PUBLISH after release reached %q subscribers, want :0", got)
	}
}

func TestDedicatedTransactionIsReset(t *testing.T) {
	s := redistest.Start(t)
	n := startNode(t, standalone("main", s.Addr), s.Addr, Options{DedicatedIdle: 1})
	d, err := n.Dedicated(context.Background(), "main")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ cmd, want string }{
		{"MULTI", "+OK\r\n"},
		{"SET k 1", "+QUEUED\r\n"},
	} {
		if got := roundTrip(t, d, strings.Fields(tc.cmd)...); got != tc.want {
			t.Fatalf("%s: %q, want %q", tc.cmd, got, tc.want)
		}
	}
	d.Release() // abandons the transaction
	d, err = n.Dedicated(context.Background(), "main")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	if got := roundTrip(t, d, "EXEC"); got != "-ERR EXEC without MULTI\r\n" {
		t.Fatalf("EXEC after release: %q", got)
	}
	if got := s.Do("EXISTS", "k"); got != ":0" {
		t.Fatalf("abandoned transaction ran: EXISTS k = %q", got)
	}
}

func TestDedicatedBrokenIsClosed(t *testing.T) {
	s := redistest.Start(t)
	n := startNode(t, standalone("main", s.Addr), s.Addr, Options{})
	d, err := n.Dedicated(context.Background(), "main")
	if err != nil {
		t.Fatal(err)
	}
	s.Do("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = d.Send(args("PING"))
	if _, err := d.Next(ctx); !errors.Is(err, ErrConnLost) {
		t.Fatalf("Next on a killed connection: %v", err)
	}
	d.Release()
	if st := n.Stats(); st.Dedicated != 0 {
		t.Fatalf("a broken connection was kept: %d open", st.Dedicated)
	}
}

func TestDedicatedIdleClosedByRedisIsReplaced(t *testing.T) {
	s := redistest.Start(t)
	n := startNode(t, standalone("main", s.Addr), s.Addr, Options{DedicatedIdle: 1})
	d, err := n.Dedicated(context.Background(), "main")
	if err != nil {
		t.Fatal(err)
	}
	d.Release()
	if st := n.Stats(); st.DedicatedIdle != 1 {
		t.Fatalf("%d idle after release, want 1", st.DedicatedIdle)
	}
	s.Do("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
	// The shared connections come back by themselves; the idle dedicated
	// one does not.
	eventually(t, "only the shared connections to be back", func() bool {
		return n.Stats().Connections == DefaultConnections && clients(t, s) == DefaultConnections
	})
	d, err = n.Dedicated(context.Background(), "main")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	if got := roundTrip(t, d, "PING"); got != "+PONG\r\n" {
		t.Fatalf("PING on the connection handed out: %q", got)
	}
	if st := n.Stats(); st.Dedicated != 1 {
		t.Fatalf("%d dedicated connections open, want 1", st.Dedicated)
	}
}
