package wire

import (
	"net"
	"sync/atomic"
	"time"
)

// Conn sits between redcon and the socket. Its first read hands
// redcon a command of the proxy's own instead of the client's bytes, so
// redcon calls the handler before it has buffered anything, and the
// handler detaches the connection and reads it with the proxy's reader
// (Reader) from the first client byte on. Writes carry a deadline, so
// a client that stops reading cannot pin the connection's goroutine and
// its replies forever.
type Conn struct {
	net.Conn
	writeTimeout time.Duration
	// deadline is the write deadline last set, in Unix nanoseconds. It
	// is set one timeout ahead and moved only when more than a
	// sixteenth of it has passed, which saves a timer update per reply
	// and closes a client that takes nothing within 94-100 % of the
	// timeout. Atomic: a pub/sub relay writes from its own goroutine.
	deadline atomic.Int64
	// greeted is set once redcon has had the detach command.
	greeted bool
	// NoIdle exempts a subscribed client from the idle timeout, as Redis
	// exempts pub/sub clients from its timeout.
	NoIdle atomic.Bool
}

var _ net.Conn = (*Conn)(nil)

// detachCommand is what redcon reads first on every connection. It never
// comes from a client, and serveRESP ignores the command it is given.
var detachCommand = []byte("*1\r\n$13\r\nkeyway.detach\r\n")

func newConn(c net.Conn, writeTimeout time.Duration) *Conn {
	return &Conn{Conn: c, writeTimeout: writeTimeout}
}

// Read implements net.Conn. Only redcon reads through it, once.
func (g *Conn) Read(p []byte) (int, error) {
	if !g.greeted && len(p) >= len(detachCommand) {
		g.greeted = true
		return copy(p, detachCommand), nil
	}
	return g.Conn.Read(p)
}

// Write implements net.Conn.
func (g *Conn) Write(p []byte) (int, error) {
	if g.writeTimeout > 0 {
		now := time.Now()
		if time.Duration(g.deadline.Load()-now.UnixNano()) < g.writeTimeout-g.writeTimeout/16 {
			d := now.Add(g.writeTimeout)
			g.deadline.Store(d.UnixNano())
			if err := g.Conn.SetWriteDeadline(d); err != nil {
				return 0, err
			}
		}
	}
	return g.Conn.Write(p)
}
