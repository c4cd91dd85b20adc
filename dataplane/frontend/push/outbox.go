package push

import (
	"errors"
	"net"
	"sync"
)

// Outbox writes a client's replies and pushed frames from a goroutine of
// its own, for as long as something other than the client's commands may
// write to it: a subscription's messages (Relay) or tracking's
// invalidations. Frames are queued in order and handed to
// the socket in as few writes as possible. The queue is what the client
// has not taken yet; when it would pass the limit the client is dropped,
// as Redis drops a pub/sub client over its client-output-buffer-limit, so
// a client that stops reading cannot grow the proxy's memory.
//
// While an outbox runs it is the only writer to the client's socket: the
// client goroutine's own replies join its queue.
type Outbox struct {
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

// NewOutbox starts an outbox writing to nc that drops the client when
// more than limit bytes wait (0: no limit).
func NewOutbox(nc net.Conn, limit int64) *Outbox {
	o := &Outbox{
		nc:        nc,
		limit:     limit,
		writeDone: make(chan struct{}),
		stopWrite: make(chan struct{}),
		wake:      make(chan struct{}, 1),
	}
	go o.write()
	return o
}

// Enqueue adds frame (copied) to the queue, or fails the outbox when the
// client has left too much unread. It is safe from any goroutine, and
// after Stop it drops the frame.
func (o *Outbox) Enqueue(frame []byte) bool {
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
func (o *Outbox) write() {
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
func (o *Outbox) fail(err error) {
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

// Err returns why the outbox failed, or nil.
func (o *Outbox) Err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lost
}

// Stop writes everything queued and ends the writer; later frames are
// dropped.
func (o *Outbox) Stop() {
	o.stopOnce.Do(func() { close(o.stopWrite) })
	<-o.writeDone
	o.mu.Lock()
	if o.lost == nil {
		o.lost = errOutboxStopped
	}
	o.mu.Unlock()
}

var errOutboxStopped = errors.New("outbox stopped")
