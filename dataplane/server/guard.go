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
	// inl rewrites inline commands into multibulk ones (inline.go).
	inl inlineRewriter
}

func newGuardConn(c net.Conn, l Limits) *guardConn {
	sl := resp.Limits{MaxBulk: l.MaxBulkLen, MaxArgs: int(l.MaxArgs), MaxRequest: l.MaxQueryBuffer}
	return &guardConn{Conn: c, scan: resp.NewScanner(sl), writeTimeout: l.WriteTimeout}
}

// Read implements net.Conn.
func (g *guardConn) Read(p []byte) (int, error) {
	if len(g.inl.out) > 0 {
		return g.inl.pop(p), nil
	}
	if g.pending != nil {
		return 0, g.refuse(g.pending)
	}
	n, err := g.Conn.Read(p)
	if n > 0 {
		ok, serr := g.check(p[:n])
		if len(g.inl.out) > 0 {
			ok = g.inl.pop(p) // inline lines were rewritten
		}
		if serr != nil {
			if ok == 0 {
				return 0, g.refuse(serr)
			}
			g.pending = serr
			return ok, nil
		}
		if ok == 0 && err == nil {
			// Only part of an inline line came: redcon must not see a
			// zero-byte read as progress, so wait for the rest here.
			return g.Read(p)
		}
		return ok, err
	}
	return n, err
}

// check scans p and returns how much of it redcon may see: all of it, or
// on an error only the commands complete before the bad one, which Redis
// would still have run. When p holds inline commands it leaves what
// redcon may see in g.inl.out instead, rewritten, and returns 0.
func (g *guardConn) check(p []byte) (int, error) {
	off := 0
	var out []byte // non-nil once an inline command was seen
	for off < len(p) {
		inline := g.inl.atInline(g.scan, p[off:])
		if inline && out == nil {
			out = append(make([]byte, 0, len(p)+64), p[:off]...)
		}
		n, _, err := g.scan.Next(p[off:])
		seg := p[off : off+n]
		off += n
		if err != nil {
			g.inl.line = g.inl.line[:0]
			if out != nil {
				g.inl.out = out
				return 0, err
			}
			return max(0, off-int(g.scan.Pending())), err
		}
		switch {
		case inline:
			g.inl.line = append(g.inl.line, seg...)
			if g.scan.Pending() == 0 { // the line ended
				out = g.inl.finish(out)
			}
		case out != nil:
			out = append(out, seg...)
		}
	}
	if out != nil {
		g.inl.out = out
		return 0, nil
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
