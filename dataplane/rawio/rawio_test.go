//go:build linux

package rawio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// pair returns a wrapped client connection and the server side of a
// loopback TCP connection.
func pair(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer := <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	c, ok := Wrap(nc).(*Conn)
	if !ok {
		t.Fatal("a *net.TCPConn was not wrapped")
	}
	t.Cleanup(func() { _ = c.Close(); _ = peer.Close() })
	return c, peer
}

func TestReadWriteRoundTrip(t *testing.T) {
	c, peer := pair(t)
	if n, err := c.Write([]byte("hello")); n != 5 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(peer, got); err != nil || string(got) != "hello" {
		t.Fatalf("peer read %q, %v", got, err)
	}
	if _, err := peer.Write([]byte("world")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "world" {
		t.Fatalf("Read %q, %v", got, err)
	}
}

func TestWritevLargerThanTheSocketTakes(t *testing.T) {
	// 8 MB in 2000 buffers: more than IOV_MAX buffers and more than the
	// socket buffers hold, so writev returns partial counts and EAGAIN,
	// and the poller must wake the writer as the peer reads.
	c, peer := pair(t)
	var want bytes.Buffer
	bufs := make([][]byte, 2000)
	for i := range bufs {
		bufs[i] = bytes.Repeat([]byte{byte(i)}, 1+i*4)
		want.Write(bufs[i])
	}
	done := make(chan []byte)
	go func() {
		got, _ := io.ReadAll(peer)
		done <- got
	}()
	n, err := c.Writev(bufs)
	if err != nil || n != int64(want.Len()) {
		t.Fatalf("Writev = %d, %v; want %d", n, err, want.Len())
	}
	_ = c.CloseWrite()
	if got := <-done; !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("peer got %d bytes, want %d (or different bytes)", len(got), want.Len())
	}
}

func TestReadEOFAndDeadline(t *testing.T) {
	c, peer := pair(t)
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	buf := make([]byte, 16)
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past its deadline: %v, want a deadline error", err)
	}
	var ne net.Error
	_ = c.SetReadDeadline(time.Time{})
	_ = peer.Close()
	if _, err := c.Read(buf); err != io.EOF {
		t.Fatalf("Read after the peer closed: %v, want EOF", err)
	}
	_ = c.Close()
	_, err := c.Read(buf)
	if !errors.Is(err, net.ErrClosed) || !errors.As(err, &ne) {
		t.Fatalf("Read after Close: %v, want net.ErrClosed", err)
	}
}

func TestWriteToAResetConnection(t *testing.T) {
	c, peer := pair(t)
	// An RST from the peer makes a later write fail with ECONNRESET or
	// EPIPE; either way an error, never a silent loss.
	_ = peer.(*net.TCPConn).SetLinger(0)
	_ = peer.Close()
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = c.Write(bytes.Repeat([]byte("x"), 64<<10))
		time.Sleep(time.Millisecond)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "write" {
		t.Fatalf("write to a reset connection: %v, want a *net.OpError", err)
	}
}

func TestWrapLeavesOtherConnsAlone(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if Wrap(a) != a {
		t.Fatal("a pipe was wrapped")
	}
}
