// Package xdstest has helpers for tests of proxies' streams to the control
// plane.
package xdstest

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Relay is a loopback TCP relay between clients and a server, for tests of
// connections that go half-open: Freeze makes every connection open at
// that moment stop forwarding in both directions without closing, the way
// a dead host or a dropped NAT flow looks from either end. The kernel
// still accepts and acknowledges what each end sends; nothing arrives.
// Connections accepted after a freeze forward normally.
type Relay struct {
	// Addr is where clients connect, on a port the kernel chose.
	Addr string

	target   string
	lis      net.Listener
	accepted atomic.Int64

	mu    sync.Mutex
	conns []*relayed // every connection, frozen ones included
	done  bool
	wg    sync.WaitGroup
}

type relayed struct {
	client, server net.Conn
	frozen         chan struct{}
	isFrozen       bool // guarded by Relay.mu
}

// NewRelay listens on 127.0.0.1:0 and relays each connection to target
// until the test ends.
func NewRelay(t testing.TB, target string) *Relay {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("relay: listen: %v", err)
	}
	r := &Relay{Addr: lis.Addr().String(), target: target, lis: lis}
	r.wg.Go(r.accept)
	t.Cleanup(r.close)
	return r
}

// Accepted is how many client connections the relay has accepted.
func (r *Relay) Accepted() int64 { return r.accepted.Load() }

// Freeze stops every open connection forwarding, without closing it, and
// returns how many it froze.
func (r *Relay) Freeze() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.conns {
		if !c.isFrozen {
			c.isFrozen = true
			close(c.frozen)
			n++
		}
	}
	return n
}

func (r *Relay) accept() {
	for {
		client, err := r.lis.Accept()
		if err != nil {
			return
		}
		r.accepted.Add(1)
		server, err := net.Dial("tcp", r.target)
		if err != nil {
			client.Close()
			continue
		}
		c := &relayed{client: client, server: server, frozen: make(chan struct{})}
		r.mu.Lock()
		if r.done {
			r.mu.Unlock()
			client.Close()
			server.Close()
			return
		}
		r.conns = append(r.conns, c)
		r.mu.Unlock()
		r.wg.Go(func() { forward(c, client, server) })
		r.wg.Go(func() { forward(c, server, client) })
	}
}

// forward copies from src to dst until either fails; once c is frozen it
// drops what it reads and stops reading, leaving both sockets open.
func forward(c *relayed, dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-c.frozen:
			return // both sockets stay open until the relay closes
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			// An end really closed: pass it on, as a router would.
			if !errors.Is(err, net.ErrClosed) {
				dst.Close()
				src.Close()
			}
			return
		}
	}
}

// close stops accepting and closes every connection, frozen ones too.
func (r *Relay) close() {
	r.lis.Close()
	r.mu.Lock()
	r.done = true
	for _, c := range r.conns {
		c.client.Close()
		c.server.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}
