package wire

import (
	"errors"
	"net"
	"sync"
	"time"

	"keyway.dev/dataplane/rawio"
)

// Listener wraps an accepted listener for two reasons. It wraps every
// connection in a Conn, so limits apply below redcon. And it decides
// when redcon tears its connections down: redcon closes every connection
// the moment Accept fails, which would cut in-flight batches, so after
// Stop closes the socket, Accept holds the error back until the drain
// is over.
type Listener struct {
	net.Listener
	// Name is the listener's name in the policy.
	Name         string
	writeTimeout time.Duration
	closing      chan struct{} // closed by Stop: stop accepting
	release      chan struct{} // closed after the drain: let redcon close the rest
	once         sync.Once
	relOnce      sync.Once
}

// NewListener wraps ln, named name in the policy; the connections it
// accepts carry writeTimeout (0: none) on every write.
func NewListener(ln net.Listener, name string, writeTimeout time.Duration) *Listener {
	return &Listener{Listener: ln, Name: name, writeTimeout: writeTimeout, closing: make(chan struct{}), release: make(chan struct{})}
}

// Accept implements net.Listener.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		return newConn(rawio.Wrap(c), l.writeTimeout), nil
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

// Stop closes the socket; connections already accepted stay open.
func (l *Listener) Stop() {
	l.once.Do(func() {
		close(l.closing)
		_ = l.Listener.Close()
	})
}

// LetGo ends the drain: Accept returns and redcon closes what is left.
func (l *Listener) LetGo() {
	l.relOnce.Do(func() { close(l.release) })
}
