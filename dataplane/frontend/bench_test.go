package frontend

import (
	"strings"
	"testing"
)

// BenchmarkGet is one GET through the server to a real redis-server and
// back, unpipelined: the per-request cost of the frontend plus two hops.
func BenchmarkGet(b *testing.B) {
	h, _ := withRedis(b, DefaultLimits())
	c := dialRaw(b, h.addr)
	if got := c.cmd("SET", "k", "value"); got != "+OK\r\n" {
		b.Fatalf("set = %q", got)
	}
	req := []byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
	want := "$5\r\nvalue\r\n"
	buf := make([]byte, len(want))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := readFull(c, buf); err != nil || string(buf) != want {
			b.Fatalf("reply %q, %v", buf, err)
		}
	}
}

// BenchmarkPipeline16 sends 16 GETs per write, as pipelining clients do.
func BenchmarkPipeline16(b *testing.B) {
	h, _ := withRedis(b, DefaultLimits())
	c := dialRaw(b, h.addr)
	if got := c.cmd("SET", "k", "value"); got != "+OK\r\n" {
		b.Fatalf("set = %q", got)
	}
	req := []byte(strings.Repeat("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 16))
	want := strings.Repeat("$5\r\nvalue\r\n", 16)
	buf := make([]byte, len(want))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := readFull(c, buf); err != nil || string(buf) != want {
			b.Fatalf("reply %q, %v", buf, err)
		}
	}
}

func readFull(c *rawConn, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := c.rd.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
