package frontend

import "testing"

// BenchmarkGetForward is BenchmarkGet through the real upstream leaf and
// pools: the unpinned path every ordinary command takes, which a pin
// must not slow down.
func BenchmarkGetForward(b *testing.B) {
	h, _ := withRealUpstream(b)
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
