package wire

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// TestWriteTimeoutMeansWhatItSays checks that a client that takes no
// reply bytes is cut off after --client-write-timeout, not half as long
// again (the deadline used to be set 1.5 timeouts ahead).
func TestWriteTimeoutMeansWhatItSays(t *testing.T) {
	const timeout = time.Second
	a, b := net.Pipe() // synchronous: a write blocks until b reads
	defer a.Close()
	defer b.Close()
	g := newConn(a, timeout)

	// A reply the client takes, then one it does not, a quarter of a
	// timeout later: the second is cut off one timeout after it began.
	go func() {
		buf := make([]byte, 5)
		_, _ = b.Read(buf)
	}()
	if _, err := g.Write([]byte("+OK\r\n")); err != nil {
		t.Fatal(err)
	}
	for _, wait := range []time.Duration{0, timeout / 4} {
		if wait > 0 {
			// Move the clock on without sleeping through the test: a
			// deadline set earlier must not shorten this write's time.
			g.deadline.Store(time.Now().Add(timeout - wait).UnixNano())
		}
		start := time.Now()
		_, err := g.Write([]byte("+OK\r\n"))
		took := time.Since(start)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("write to a client that reads nothing: %v", err)
		}
		// The bound is the feature: at least 15/16 of the timeout, and
		// at most the timeout plus scheduling slack on a loaded machine
		// (the old 1.5x fails it).
		if took < timeout*15/16 || took > timeout*5/4 {
			t.Errorf("after %v idle: cut off after %v, want about %v", wait, took, timeout)
		}
		_ = a.SetWriteDeadline(time.Time{})
		g.deadline.Store(0)
	}
}
