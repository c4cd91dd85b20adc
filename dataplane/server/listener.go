package server

import (
	"errors"
	"net"
	"sync"
	"time"

	"keyway.dev/dataplane/rawio"
)

// listener wraps an accepted listener for two reasons. It wraps every
// connection in a guardConn, so limits apply below redcon. And it decides
// when redcon tears its connections down: redcon closes every connection
// the moment Accept fails, which would cut in-flight batches, so after
// Shutdown closes the socket, Accept holds the error back until the drain
// is over.
type listener struct {
	net.Listener
	name    string
	limits  Limits
	closing chan struct{} // closed by Shutdown: stop accepting
	release chan struct{} // closed after the drain: let redcon close the rest
	once    sync.Once
	relOnce sync.Once
}

func newListener(ln net.Listener, name string, l Limits) *listener {
	return &listener{Listener: ln, name: name, limits: l, closing: make(chan struct{}), release: make(chan struct{})}
}

// Accept implements net.Listener.
func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		return newGuardConn(rawio.Wrap(c), l.limits), nil
	}
	select {
	case <-l.closing:
		<-l.release
		return nil, net.ErrClosed
	default:
	}
	if errors.Is(err, net.ErrClosed) {
		return nil, err
	}
	// redcon retries at once; pause so running out of file descriptors
	// does not become a busy loop.
	time.Sleep(10 * time.Millisecond)
	return nil, err
}

// stop closes the socket; connections already accepted stay open.
func (l *listener) stop() {
	l.once.Do(func() {
		close(l.closing)
		_ = l.Listener.Close()
	})
}

// letGo ends the drain: Accept returns and redcon closes what is left.
func (l *listener) letGo() {
	l.relOnce.Do(func() { close(l.release) })
}
