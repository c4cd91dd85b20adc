package server

import (
	"errors"
	"net"
	"sync/atomic"
	"time"

	"keyway.dev/dataplane/resp"
)

// errRefused ends a connection whose input broke a limit; the RESP error
// has already been written when it is returned.
var errRefused = errors.New("request refused")

// guardConn sits between redcon and the socket. Reads pass through the
// scanner, so a request that breaks a limit is answered with an error and
// the connection closed before redcon buffers the request; writes carry a
// deadline, so a client that stops reading cannot pin the connection's
// goroutine and its replies forever.
type guardConn struct {
	net.Conn
	scan         *resp.Scanner
	writeTimeout time.Duration
	// pending is an error found in an earlier read whose valid prefix
	// was passed on first, so the commands before it are still answered.
	pending error
	// noIdle exempts a subscribed client from the idle timeout, as Redis
	// exempts pub/sub clients from its timeout (pubsub.go).
	noIdle atomic.Bool
}

func newGuardConn(c net.Conn, l Limits) *guardConn {
	sl := resp.Limits{MaxBulk: l.MaxBulkLen, MaxArgs: int(l.MaxArgs), MaxRequest: l.MaxQueryBuffer}
	return &guardConn{Conn: c, scan: resp.NewScanner(sl), writeTimeout: l.WriteTimeout}
}

// Read implements net.Conn.
func (g *guardConn) Read(p []byte) (int, error) {
	if g.pending != nil {
		return 0, g.refuse(g.pending)
	}
	n, err := g.Conn.Read(p)
	if n > 0 {
		ok, serr := g.check(p[:n])
		if serr != nil {
			if ok == 0 {
				return 0, g.refuse(serr)
			}
			g.pending = serr
			return ok, nil
		}
	}
	return n, err
}

// check scans p and returns how much of it redcon may see: all of it, or
// on an error only the commands complete before the bad one, which Redis
// would still have run.
func (g *guardConn) check(p []byte) (int, error) {
	off := 0
	for off < len(p) {
		n, _, err := g.scan.Next(p[off:])
		off += n
		if err != nil {
			return max(0, off-int(g.scan.Pending())), err
		}
	}
	return len(p), nil
}

// refuse tells the client why, the way Redis does, and fails the read so
// redcon closes the connection. redcon flushes replies before it reads
// again, so the error lands after every earlier reply.
func (g *guardConn) refuse(reason error) error {
	g.pending = reason
	if g.writeTimeout > 0 {
		_ = g.Conn.SetWriteDeadline(time.Now().Add(g.writeTimeout))
	}
	msg := reason.Error()
	if _, ok := reason.(*resp.QueryError); !ok {
		msg = "ERR " + msg
	}
	_, _ = g.Conn.Write(resp.AppendError(nil, msg))
	return errRefused
}

// Write implements net.Conn.
func (g *guardConn) Write(p []byte) (int, error) {
	if g.writeTimeout > 0 {
		if err := g.Conn.SetWriteDeadline(time.Now().Add(g.writeTimeout)); err != nil {
			return 0, err
		}
	}
	return g.Conn.Write(p)
}

// SetReadDeadline implements net.Conn. redcon sets the idle deadline
// before each read; a subscribed client waits on its messages, not idles.
func (g *guardConn) SetReadDeadline(t time.Time) error {
	if g.noIdle.Load() {
		t = time.Time{}
	}
	return g.Conn.SetReadDeadline(t)
}
