package rawrelay

import (
	"bufio"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"keyway.dev/dataplane/frontend/wire"
)

// pair returns the proxy's side of a client connection (a wire.Conn, as
// the listener hands it out) and the client's side.
func pair(t *testing.T) (*wire.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := wire.NewListener(ln, "test", 10*time.Second)
	t.Cleanup(func() { _ = ln.Close() })
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = peer.Close() })
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return c.(*wire.Conn), peer
}

// tcpPair is two ends of one loopback TCP connection: the proxy's
// upstream connection and Redis's side of it.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	return a, b
}

func readN(t *testing.T, r io.Reader, n int) string {
	t.Helper()
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return string(buf)
}

func TestBytesBothWaysUntilUpstreamCloses(t *testing.T) {
	client, peer := pair(t)
	up, redis := tcpPair(t)
	done := make(chan struct{})
	go func() {
		Run(context.Background(), client, up, func() { _ = up.Close() }, []byte("MONITOR\r\n"), []byte("+early\r\n"))
		close(done)
	}()
	rd := bufio.NewReader(redis)
	if got := readN(t, rd, len("MONITOR\r\n")); got != "MONITOR\r\n" {
		t.Fatalf("upstream got %q first", got)
	}
	if _, err := redis.Write([]byte("+OK\r\n")); err != nil {
		t.Fatal(err)
	}
	prd := bufio.NewReader(peer)
	if got := readN(t, prd, len("+early\r\n+OK\r\n")); got != "+early\r\n+OK\r\n" {
		t.Fatalf("client got %q; want what upstream sent early, then the stream", got)
	}
	if _, err := peer.Write([]byte("REPLCONF ACK 0\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, rd, len("REPLCONF ACK 0\r\n")); got != "REPLCONF ACK 0\r\n" {
		t.Fatalf("upstream got %q from the client", got)
	}
	_ = redis.Close()
	if _, err := prd.ReadByte(); err == nil {
		t.Fatal("the client's connection outlived the upstream's")
	}
	<-done
}

func TestContextEndsTheRelay(t *testing.T) {
	client, peer := pair(t)
	up, _ := tcpPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Run(ctx, client, up, func() { _ = up.Close() }, []byte("SYNC\r\n"), nil)
		close(done)
	}()
	cancel()
	<-done
	if _, err := peer.Read(make([]byte, 1)); err == nil {
		t.Fatal("the client's connection is open after the relay ended")
	}
}

func TestUpstreamGoneBeforeTheFirstWrite(t *testing.T) {
	client, peer := pair(t)
	up, _ := tcpPair(t)
	_ = up.Close()
	closed := false
	Run(context.Background(), client, up, func() { closed = true }, []byte("SYNC\r\n"), nil)
	if !closed {
		t.Fatal("the upstream connection was not closed")
	}
	if _, err := peer.Read(make([]byte, 1)); err == nil {
		t.Fatal("the client's connection is open after a failed relay")
	}
}
