package server

import (
	"errors"
	"net"
	"sync"
)

// outbox writes a client's replies and pushed frames from a goroutine of
// its own, for as long as something other than the client's commands may
// write to it: a subscription's messages (relay.go) or tracking's
// invalidations (tracking.go). Frames are queued in order and handed to
// the socket in as few writes as possible. The queue is what the client
// has not taken yet; when it would pass the limit the client is dropped,
// as Redis drops a pub/sub client over its client-output-buffer-limit, so
// a client that stops reading cannot grow the proxy's memory.
//
// While an outbox runs it is the only writer to the client's socket: the
// client goroutine's own replies join its queue (client.write).
type outbox struct {
	nc    net.Conn
	limit int64

	writeDone chan struct{}
	stopWrite chan struct{} // closed to make write drain the queue and return
	wake      chan struct{}
	stopOnce  sync.Once

	mu     sync.Mutex
	out    []byte // queued frames, not yet handed to write
	queued int64  // bytes in out plus bytes write is writing
	// lost is why the outbox dropped the client (overflow, a dead
	// upstream or socket), nil while it is healthy.
	lost error
}

// errRelayOverflow is why a client that does not read its messages is
// dropped.
var errRelayOverflow = errors.New("pub/sub output over the limit")

// maxRelayBuffer is the largest write buffer an outbox keeps between
// bursts.
const maxRelayBuffer = 1 << 20

func newOutbox(nc net.Conn, limit int64) *outbox {
	o := &outbox{
		nc:        nc,
		limit:     limit,
		writeDone: make(chan struct{}),
		stopWrite: make(chan struct{}),
		wake:      make(chan struct{}, 1),
	}
	go o.write()
	return o
}

// enqueue adds frame (copied) to the queue, or fails the outbox when the
// client has left too much unread. It is safe from any goroutine, and
// after stop it drops the frame.
func (o *outbox) enqueue(frame []byte) bool {
	o.mu.Lock()
	if o.lost != nil {
		o.mu.Unlock()
		return false
	}
	if o.limit > 0 && o.queued+int64(len(frame)) > o.limit {
		o.mu.Unlock()
		o.fail(errRelayOverflow)
		return false
	}
	o.out = append(o.out, frame...)
	o.queued += int64(len(frame))
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return true
}

// write hands queued frames to the socket until stopWrite, then writes
// what is left and returns.
func (o *outbox) write() {
	defer close(o.writeDone)
	var buf []byte
	for {
		stopping := false
		select {
		case <-o.wake:
		case <-o.stopWrite:
			stopping = true
		}
		o.mu.Lock()
		buf, o.out = o.out, buf[:0]
		o.mu.Unlock()
		if len(buf) > 0 {
			_, err := o.nc.Write(buf)
			o.mu.Lock()
			o.queued -= int64(len(buf))
			o.mu.Unlock()
			if err != nil {
				o.fail(err)
				return
			}
		}
		if cap(buf) > maxRelayBuffer {
			buf = nil // a burst passed; do not hold its memory
		}
		if stopping {
			return
		}
	}
}

// fail records why the outbox gave up and closes the client's socket, so
// the client's own goroutine sees the end and releases what it holds.
func (o *outbox) fail(err error) {
	o.mu.Lock()
	first := o.lost == nil
	if first {
		o.lost = err
	}
	o.mu.Unlock()
	if first {
		_ = o.nc.Close()
	}
}

// err returns why the outbox failed, or nil.
func (o *outbox) err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lost
}

// stop writes everything queued and ends the writer; later frames are
// dropped.
func (o *outbox) stop() {
	o.stopOnce.Do(func() { close(o.stopWrite) })
	<-o.writeDone
	o.mu.Lock()
	if o.lost == nil {
		o.lost = errOutboxStopped
	}
	o.mu.Unlock()
}

var errOutboxStopped = errors.New("outbox stopped")

// startOutbox hands the socket to an outbox: replies buffered so far go
// out first, and from then on every write joins the outbox's queue. The
// idle timeout is off while it runs, as Redis never times out a
// subscribed client.
func (c *client) startOutbox() error {
	if c.box != nil {
		return nil
	}
	if err := c.dc.Flush(); err != nil {
		return err
	}
	c.pending = 0
	c.box = newOutbox(c.rc.NetConn(), c.srv.cfg.Limits.MaxPubSubOutput)
	c.boxRef.Store(c.box)
	c.idleExempt(true)
	return nil
}

// stopOutbox gives the socket back to the client goroutine once nothing
// pushes to it any more: no subscription and no tracking that delivers
// to this connection.
func (c *client) stopOutbox() {
	if c.box == nil || (c.pin != nil && c.pin.sub != nil) || c.tracker.pushes() {
		return
	}
	c.boxRef.Store(nil)
	c.box.stop()
	c.box = nil
	c.idleExempt(false)
}
