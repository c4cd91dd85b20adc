package upstream

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"keyway.dev/dataplane/resp"
)

// connState is where a shared connection slot is in its life.
type connState uint32

const (
	// stateConnecting: a dial is under way; requests queue for it.
	stateConnecting connState = iota
	// stateUp: connected; requests are written and answered.
	stateUp
	// stateDown: the last dial failed; requests fail fast until one works.
	stateDown
	// stateClosed: the node was closed.
	stateClosed
)

// errStuck is why a connection that stopped answering is replaced.
var errStuck = errors.New("connection stuck")

// item is one request in a connection's FIFO.
type item struct {
	c *call
	i int
}

// Buffers larger than this are dropped after use rather than kept, so one
// huge pipeline does not pin memory for the connection's life.
const keepBuffer = 1 << 20

// conn is one of a node's shared connection slots. It outlives the TCP
// connections it runs: when one breaks, the slot redials, and requests
// queued but not yet written go out on the next connection.
type conn struct {
	n     *Node
	proto uint8 // RESP version the slot's connections speak
	// pending mirrors len(fifo)-head for pick, which reads it without
	// the lock.
	pending atomic.Int32
	state   atomic.Uint32 // connState, read without the lock to pick a slot
	wake    chan struct{} // the writer has bytes to send

	mu    sync.Mutex
	cause error     // why the slot is down
	wq    wqueue    // encoded commands not yet written
	fifo  []item    // requests written or queued, awaiting replies
	head  int       // first live item of fifo
	queue int       // items at fifo's tail whose bytes are still in wq
	nc    net.Conn  // while up
	rdl   bool      // a read deadline is armed on nc
	armed time.Time // the read deadline armed, when rdl
	// writing is set while someone, the writer goroutine or a caller
	// writing directly (write.go), owns nc's write side.
	writing bool
}

func newConn(n *Node, proto uint8) *conn {
	return &conn{n: n, proto: proto, wake: make(chan struct{}, 1)}
}

// enqueue queues c's batch for writing in one piece, so a batch is never
// interleaved with other callers' commands, or fails every request of it
// when the slot cannot take them.
//
// It returns whether the connection's reader is running and so will
// expire the call at its deadline (rearm); when not, the caller keeps
// its own timer.
func (s *conn) enqueue(c *call) (watched bool) {
	s.mu.Lock()
	switch connState(s.state.Load()) {
	case stateDown:
		cause := s.cause
		s.mu.Unlock()
		for i := range c.reqs {
			c.fail(i, ErrUnavailable, cause)
		}
		return true
	case stateClosed:
		s.mu.Unlock()
		for i := range c.reqs {
			c.fail(i, ErrClosed, nil)
		}
		return true
	}
	watched = s.nc != nil && connState(s.state.Load()) == stateUp
	idle := s.head == len(s.fifo)
	signal := s.wq.empty()
	s.wq.reserve(c.size)
	for i, r := range c.reqs {
		s.wq.appendCommand(r.Cmd.Args)
		s.fifo = append(s.fifo, item{c: c, i: i})
		if r.Trace != nil {
			r.Trace.Sent = time.Now()
		}
	}
	s.queue += len(c.reqs)
	s.pending.Store(int32(len(s.fifo) - s.head))
	if s.nc != nil && (!s.rdl || c.deadline.Before(s.armed)) {
		// Deadlines run from when requests were read, so a later call
		// may be due before the one the reader waits for.
		s.armLocked(c.deadline)
	}
	if idle && !s.writing && s.nc != nil {
		s.writeDirect(c.deadline) // unlocks
		return watched
	}
	s.mu.Unlock()
	if signal {
		s.signal()
	}
	return watched
}

// armLocked sets the read deadline, at which the reader expires the
// requests past their own deadlines and checks whether the connection is
// stuck (rearm). Deadlines are re-armed lazily, when they fire, so a busy
// connection pays for no timer per request, and neither do its callers
// (call.wait).
func (s *conn) armLocked(deadline time.Time) {
	_ = s.nc.SetReadDeadline(deadline)
	s.rdl = true
	s.armed = deadline
}

// inflight counts requests queued or awaiting a reply.
func (s *conn) inflight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.fifo) - s.head
}

// takeLocked removes the k oldest items and returns them in dst.
func (s *conn) takeLocked(dst []item, k int) []item {
	dst = append(dst[:0], s.fifo[s.head:s.head+k]...)
	clear(s.fifo[s.head : s.head+k])
	s.head += k
	s.pending.Store(int32(len(s.fifo) - s.head))
	switch {
	case s.head == len(s.fifo):
		s.fifo = s.fifo[:0]
		s.head = 0
		if cap(s.fifo) > keepBuffer/16 {
			s.fifo = nil
		}
	case s.head > 1024 && s.head > len(s.fifo)/2:
		n := copy(s.fifo, s.fifo[s.head:])
		clear(s.fifo[n:])
		s.fifo = s.fifo[:n]
		s.head = 0
	}
	return dst
}

// run owns the slot's connections: it dials with backoff, serves each
// connection until it breaks, and returns when the node closes.
func (s *conn) run() {
	n := s.n
	attempt := 0
	for {
		select {
		case <-n.done:
			s.shutdown()
			return
		default:
		}
		ok, wait, changed := n.breaker.allow(time.Now())
		if !ok {
			_, cause := n.breaker.open()
			s.setDown(cause)
			n.sleep(wait, changed)
			continue
		}
		nc, err := n.dialer.dial(n.ctx, n.addr, s.proto)
		if err != nil {
			n.breaker.failure(time.Now(), err)
			s.setDown(err)
			attempt++
			n.sleep(reconnectDelay(attempt, n.opts.ReconnectMin, n.opts.ReconnectMax), n.breaker.changes())
			continue
		}
		n.breaker.success()
		attempt = 0
		s.serve(nc)
	}
}

// setDown fails everything queued and makes new requests fail fast.
func (s *conn) setDown(cause error) {
	if cause == nil {
		cause = errors.New("not connected")
	}
	s.mu.Lock()
	s.state.Store(uint32(stateDown))
	s.cause = cause
	items := s.takeLocked(nil, len(s.fifo)-s.head)
	s.wq.reset()
	s.queue = 0
	s.mu.Unlock()
	for _, it := range items {
		it.c.fail(it.i, ErrUnavailable, cause)
	}
}

// serve runs one connection: this goroutine writes, a second one reads.
// It returns once the connection broke and the reader has stopped, having
// failed the requests that were sent on it.
func (s *conn) serve(nc net.Conn) {
	s.mu.Lock()
	s.nc = nc
	s.rdl = false
	if s.head < len(s.fifo) {
		s.armLocked(s.fifo[s.head].c.deadline)
	}
	s.state.Store(uint32(stateUp))
	pending := !s.wq.empty()
	s.mu.Unlock()

	readErr := make(chan error, 1)
	go func() { readErr <- s.read(nc) }()

	var err error
	if pending {
		err = s.flush(nc)
	}
	closing := false
	for err == nil && !closing {
		select {
		case <-s.wake:
			err = s.flush(nc)
		case err = <-readErr:
			readErr <- err // put back for the wait below
		case <-s.n.done:
			closing = true
			err = s.drain(nc)
		}
	}
	_ = nc.Close()
	if rerr := <-readErr; errors.Is(rerr, errStuck) {
		err = rerr
	}
	what := ErrConnLost
	if errors.Is(err, errStuck) {
		// Redis stopped answering: for the requests sent on the
		// connection, that is a timeout whatever their own deadline.
		what = ErrTimeout
	}
	s.mu.Lock()
	s.nc = nil
	if closing {
		what, err = ErrClosed, nil
	} else {
		s.state.Store(uint32(stateConnecting))
	}
	sent := s.takeLocked(nil, len(s.fifo)-s.head-s.queue)
	s.mu.Unlock()
	for _, it := range sent {
		it.c.fail(it.i, what, err)
	}
}

// flush writes everything queued in one write: every caller that queued
// since the last flush shares the syscall. It yields first, so that on a
// busy proxy the callers already runnable queue their requests before
// the write rather than after it (write.go).
func (s *conn) flush(nc net.Conn) error {
	runtime.Gosched()
	s.mu.Lock()
	if s.writing || s.wq.empty() {
		// A caller is writing directly and hands over what is left
		// when it is done.
		s.mu.Unlock()
		return nil
	}
	bufs := s.wq.take()
	s.queue = 0
	s.writing = true
	s.mu.Unlock()
	err := s.wq.write(nc, bufs)
	s.mu.Lock()
	s.writing = false
	s.wq.recycle(bufs)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// drain sends what is queued and waits for replies to what was sent,
// until no caller can still be waiting for one (the newest request's
// deadline), so closing a node does not cut off requests in flight.
func (s *conn) drain(nc net.Conn) error {
	s.mu.Lock()
	s.state.Store(uint32(stateClosed))
	s.mu.Unlock()
	if err := s.flush(nc); err != nil {
		return err
	}
	for {
		s.mu.Lock()
		idle := s.head == len(s.fifo)
		var last time.Time
		if !idle {
			last = s.fifo[len(s.fifo)-1].c.deadline
		}
		s.mu.Unlock()
		if idle || time.Now().After(last) {
			return ErrClosed
		}
		time.Sleep(time.Millisecond)
	}
}

// shutdown fails whatever is still queued once the node is closed.
func (s *conn) shutdown() {
	s.mu.Lock()
	s.state.Store(uint32(stateClosed))
	items := s.takeLocked(nil, len(s.fifo)-s.head)
	s.wq.reset()
	s.queue = 0
	s.mu.Unlock()
	for _, it := range items {
		it.c.fail(it.i, ErrClosed, nil)
	}
}

// read frames replies and hands each to the oldest request, until the
// connection fails. Replies are matched under one lock per read, not per
// reply, and copied into requests outside it.
func (s *conn) read(nc net.Conn) error {
	buf := make([]byte, 16<<10)
	start, end := 0, 0
	var lens []int
	var got []item
	for {
		if start == end {
			start, end = 0, 0
			if len(buf) > keepBuffer {
				buf = make([]byte, 16<<10)
			}
		} else if end == len(buf) {
			if start > 0 {
				end = copy(buf, buf[start:end])
				start = 0
			} else {
				buf = append(buf, make([]byte, len(buf))...)
			}
		}
		m, err := nc.Read(buf[end:])
		end += m
		if err != nil && m == 0 {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				return fmt.Errorf("read: %w", err)
			}
			if err := s.rearm(); err != nil {
				return err
			}
			continue
		}
		lens = lens[:0]
		at := start
		for {
			k, err := resp.ReplyLen(buf[at:end])
			if err != nil {
				return fmt.Errorf("bad reply from redis: %w", err)
			}
			if k == 0 {
				break
			}
			lens = append(lens, k)
			at += k
		}
		if len(lens) == 0 {
			if end-start >= bigReply {
				s.allowPartial(int64(end - start))
			}
			continue
		}
		s.mu.Lock()
		if sent := len(s.fifo) - s.head - s.queue; len(lens) > sent {
			s.mu.Unlock()
			return fmt.Errorf("redis sent %d replies for %d requests", len(lens), sent)
		}
		got = s.takeLocked(got, len(lens))
		s.mu.Unlock()
		for j, it := range got {
			it.c.reply(it.i, buf[start:start+lens[j]])
			start += lens[j]
			got[j] = item{}
		}
		if end-start >= bigReply {
			s.allowPartial(int64(end - start))
		}
	}
}

// allowPartial extends the deadline of the request whose reply is
// arriving, n bytes of it so far, so a big reply is not cut off by a
// deadline sized for small ones.
func (s *conn) allowPartial(n int64) {
	s.mu.Lock()
	if sent := len(s.fifo) - s.head - s.queue; sent > 0 {
		s.fifo[s.head].c.allow(n, s.n.opts.MinBandwidth)
	}
	s.mu.Unlock()
	s.n.big.note(n, time.Now())
}

// rearm runs in the reader when the read deadline fires. It fails the
// requests whose deadline has passed (their callers stop waiting; the
// FIFO still consumes their replies), decides whether the connection is
// stuck, which means the oldest request had no reply a full timeout after
// its deadline, and arms the next deadline: the earliest among requests
// still waiting, or the stuck check.
func (s *conn) rearm() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.head == len(s.fifo) {
		_ = s.nc.SetReadDeadline(time.Time{})
		s.rdl = false
		return nil
	}
	now := time.Now()
	stuckAt := s.fifo[s.head].c.due().Add(s.n.opts.Timeout)
	if !now.Before(stuckAt) {
		return fmt.Errorf("%w: no reply for %v after a request's deadline", errStuck, s.n.opts.Timeout)
	}
	next := stuckAt
	var last *call
	for _, it := range s.fifo[s.head:] {
		c := it.c
		if c == last || c.pending.Load() == 0 {
			continue // a call's items are contiguous; answered calls wait for nothing
		}
		last = c
		// Items hold references, and replies are handed out only by this
		// goroutine, so c cannot be recycled while it is expired here.
		if due := c.due(); now.Before(due) {
			if due.Before(next) {
				next = due
			}
		} else {
			c.expire(ErrTimeout, nil)
		}
	}
	s.armLocked(next)
	return nil
}
