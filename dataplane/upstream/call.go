package upstream

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"keyway.dev/dataplane/engine"
)

// call is one caller's batch on its way through a connection. Each request
// is answered exactly once by whoever claims it first: the reader with
// Redis's reply, the connection with a failure, or the waiting caller when
// the deadline passes. A claimed-late reply is dropped while its slot in
// the FIFO still consumes it, which keeps replies aligned.
//
// Calls are pooled. The caller and every FIFO item hold a reference; the
// last one returns the call to the pool, because items may outlive the
// caller (a request that timed out stays queued until Redis answers).
type call struct {
	reqs     engine.Batch
	claimed  []atomic.Uint32
	pending  atomic.Int32
	refs     atomic.Int32
	done     chan struct{} // one token, sent when pending reaches 0
	timer    *time.Timer
	deadline time.Time
	// extra extends deadline while a big reply is arriving (transfer.go),
	// in nanoseconds; the reader raises it, the waiter reads it.
	extra   atomic.Int64
	timeout time.Duration // the budget, for the error message
	size    int           // an upper bound of the batch's encoded size
	name    string
	addr    string
}

var callPool = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &call{done: make(chan struct{}, 1), timer: t}
}}

// newCall prepares a call for b with one reference per request plus the
// caller's.
func newCall(b engine.Batch, name, addr string, deadline time.Time, timeout time.Duration) *call {
	c := callPool.Get().(*call)
	c.reqs = b
	if cap(c.claimed) < len(b) {
		c.claimed = make([]atomic.Uint32, len(b))
	} else {
		c.claimed = c.claimed[:len(b)]
		for i := range c.claimed {
			c.claimed[i].Store(0)
		}
	}
	c.pending.Store(int32(len(b)))
	c.refs.Store(int32(len(b)) + 1)
	c.deadline = deadline
	c.extra.Store(0)
	c.size = 0
	c.timeout = timeout
	c.name = name
	c.addr = addr
	return c
}

func (c *call) claim(i int) bool { return c.claimed[i].CompareAndSwap(0, 1) }

func (c *call) finish() {
	if c.pending.Add(-1) == 0 {
		c.done <- struct{}{}
	}
}

// release drops one reference.
func (c *call) release() {
	if c.refs.Add(-1) == 0 {
		c.reqs = nil
		callPool.Put(c)
	}
}

// reply answers request i with raw, unless it was answered already, and
// drops the item's reference.
func (c *call) reply(i int, raw []byte) {
	if c.claim(i) {
		if t := c.reqs[i].Trace; t != nil {
			t.Received = time.Now()
		}
		c.reqs[i].Reply(raw)
		c.finish()
	}
	c.release()
}

// fail answers request i with an error of what, unless it was answered
// already, and drops the item's reference.
func (c *call) fail(i int, what, cause error) {
	if c.claim(i) {
		e := &Error{What: what, Upstream: c.name, Addr: c.addr, Cause: cause, Timeout: c.timeout}
		c.reqs[i].Fail(e.Kind(), e)
		c.finish()
	}
	c.release()
}

// wait blocks until every request is answered, failing the unanswered ones
// itself when the deadline passes or ctx ends: a caller never waits on a
// node that stopped answering.
//
// watched says that the connection's reader expires the call at its
// deadline (conn.rearm), which spares a timer per request; a call queued
// on a connection that is not up keeps its own.
func (c *call) wait(ctx context.Context, watched bool) {
	select {
	case <-c.done:
		return
	default:
	}
	if watched {
		select {
		case <-c.done:
			return
		case <-ctx.Done():
			c.cancel(ctx)
		}
		<-c.done
		return
	}
	c.timer.Reset(time.Until(c.deadline))
	for {
		select {
		case <-c.done:
			c.timer.Stop()
			return
		case <-c.timer.C:
			if d := c.due(); time.Now().Before(d) {
				c.timer.Reset(time.Until(d)) // a big reply is arriving
				continue
			}
			c.expire(ErrTimeout, nil)
		case <-ctx.Done():
			c.timer.Stop()
			c.cancel(ctx)
		}
		<-c.done
		return
	}
}

// cancel fails what is unanswered when ctx ends before the replies.
func (c *call) cancel(ctx context.Context) {
	if ctx.Err() == context.DeadlineExceeded {
		c.expire(ErrTimeout, nil)
	} else {
		c.expire(ErrCanceled, context.Cause(ctx))
	}
}

// due is the deadline with the allowance for a big reply in progress.
func (c *call) due() time.Time {
	return c.deadline.Add(time.Duration(c.extra.Load()))
}

// allow extends the deadline to cover the transfer, at bw bytes per
// second, of a reply of which n bytes have arrived.
func (c *call) allow(n, bw int64) {
	d := int64(transferTime(n, bw))
	for {
		cur := c.extra.Load()
		if d <= cur || c.extra.CompareAndSwap(cur, d) {
			return
		}
	}
}

// expire fails every request not yet claimed. Requests the reader claimed
// are being copied right now; wait's final receive covers them.
func (c *call) expire(what, cause error) {
	for i := range c.reqs {
		if c.claim(i) {
			e := &Error{What: what, Upstream: c.name, Addr: c.addr, Cause: cause, Timeout: c.timeout}
			c.reqs[i].Fail(e.Kind(), e)
			c.finish()
		}
	}
}
