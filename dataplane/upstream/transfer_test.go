package upstream

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

func TestTransferTime(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bytes int64
		want  time.Duration
	}{
		{"nothing", 0, 0},
		{"one second at the floor", DefaultMinBandwidth, time.Second},
		{"100 MB", 100 << 20, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := transferTime(tc.bytes, DefaultMinBandwidth); got != tc.want {
				t.Fatalf("transferTime(%d) = %v, want %v", tc.bytes, got, tc.want)
			}
		})
	}
}

func TestCallAllowExtendsDeadline(t *testing.T) {
	c := newCall(nil, "main", "addr", time.Unix(100, 0), time.Second)
	defer c.release()
	for _, tc := range []struct {
		name    string
		arrived int64
		want    time.Time
	}{
		{"first MB", 1 << 20, time.Unix(100, 0).Add(50 * time.Millisecond)},
		{"more arrived", 20 << 20, time.Unix(101, 0)},
		{"never shrinks", 1 << 20, time.Unix(101, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.allow(tc.arrived, DefaultMinBandwidth)
			if got := c.due(); !got.Equal(tc.want) {
				t.Fatalf("due = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestNodeBigReplyExtendsDeadline has a fake Redis send a reply that
// stalls for longer than the timeout after its first megabyte, which at a
// floor of 1 MB/s earns a second more: the request must get the reply,
// not the timeout.
func TestNodeBigReplyExtendsDeadline(t *testing.T) {
	const chunk, chunks = 1 << 20, 2
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	served := make(chan error, 1)
	go func() { served <- slowBulk(ln, chunk, chunks, 600*time.Millisecond) }()
	addr := ln.Addr().String()
	n := startNode(t, standalone("main", addr), addr, Options{Timeout: 300 * time.Millisecond, Connections: 1, MinBandwidth: 1 << 20})
	if r := do(n, "main", "PING"); string(r.Raw()) != "+PONG\r\n" {
		t.Fatalf("PING: %q", r.Raw()) // the connection is up before the clock starts
	}
	r := do(n, "main", "GET", "big")
	if got, want := len(r.Raw()), len(bulk(strings.Repeat("v", chunk*chunks))); got != want {
		t.Fatalf("reply %.80q: %d bytes, want %d", r.Raw(), got, want)
	}
	n.Close()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

// slowBulk accepts one connection, answers a first command with +PONG and
// a second with a bulk of chunks*size bytes, one chunk per pause.
func slowBulk(ln net.Listener, size, chunks int, pause time.Duration) error {
	c, err := ln.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	data := bytes.Repeat([]byte("v"), size)
	for _, reply := range []string{"+PONG\r\n", ""} {
		if _, err := c.Read(make([]byte, 1024)); err != nil {
			return err
		}
		if _, err := c.Write([]byte(reply)); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintf(c, "$%d\r\n", size*chunks); err != nil {
		return err
	}
	for i := range chunks {
		if i > 0 {
			time.Sleep(pause)
		}
		if _, err := c.Write(data); err != nil {
			return err
		}
	}
	_, err = c.Write([]byte("\r\n"))
	return err
}

func TestBigSeen(t *testing.T) {
	var b bigSeen
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name string
		note int64
		at   time.Duration // after t0
		want int64
	}{
		{"small sizes are not noted", 100, 0, 0},
		{"a big value is", 100 << 20, time.Second, 100 << 20},
		{"a smaller big one does not shrink it", 2 << 20, 2 * time.Second, 100 << 20},
		{"remembered for bigMemory after the last", 0, 2*time.Second + bigMemory, 100 << 20},
		{"then forgotten", 0, 3*time.Second + bigMemory, 0},
		{"a new one after forgetting counts alone", 2 << 20, 4*time.Second + bigMemory, 2 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := t0.Add(tc.at)
			b.note(tc.note, now)
			if got := b.recent(now); got != tc.want {
				t.Fatalf("recent = %d, want %d", got, tc.want)
			}
		})
	}
}
