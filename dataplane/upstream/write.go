package upstream

import "time"

// How requests reach the socket. A connection's writer goroutine batches
// the requests of many callers into one write: it is woken by the first
// caller to queue and yields once before writing, so that on a proxy
// running on one core the callers already runnable (clients whose
// requests arrived together) queue behind the first one and share its
// write(2) instead of each paying one.
//
// When the connection is idle, nothing in flight and nothing being
// written, batching has nothing to wait for: the caller writes its own
// request, which saves the hop to the writer goroutine and back, the
// latency an unpipelined client sees. Whoever writes holds s.writing;
// the other side leaves the socket alone until it is cleared, so bytes of
// two batches never interleave.

// writeDirect writes what is queued from the caller's goroutine. It is
// called with s.mu held and releases it. A write deadline bounds it by
// the request's own deadline: a caller never blocks on a socket longer
// than it would wait for the reply.
func (s *conn) writeDirect(deadline time.Time) {
	nc := s.nc
	bufs := s.wq.take()
	s.queue = 0
	s.writing = true
	s.mu.Unlock()

	_ = nc.SetWriteDeadline(deadline)
	err := s.wq.write(nc, bufs)
	_ = nc.SetWriteDeadline(time.Time{})
	if err != nil {
		// The reader sees the connection fail and serve fails the
		// requests sent on it, this one included; the slot redials.
		_ = nc.Close()
	}

	s.mu.Lock()
	s.writing = false
	s.wq.recycle(bufs)
	more := !s.wq.empty()
	s.mu.Unlock()
	if more {
		s.signal()
	}
}

// signal wakes the writer goroutine.
func (s *conn) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
