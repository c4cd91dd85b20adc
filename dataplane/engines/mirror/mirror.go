// Package mirror is the Mirror engine: it serves every request from its
// primary child and sends a copy of a sampled share to a shadow child,
// to warm or try out a new Redis on live traffic. The shadow never
// changes a reply or slows a client.
package mirror

import (
	"context"
	"math/rand/v2"
	"sync/atomic"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// maxBatch bounds how many queued copies the worker sends to the shadow
// in one batch: enough to pipeline, small enough that one slow batch
// does not hold many copies.
const maxBatch = 64

// Mirror serves from primary and queues copies for shadow. The queue is
// bounded and drained by one worker goroutine the engine owns; a copy
// that finds the queue full is dropped and counted.
type Mirror struct {
	primary engine.Engine
	shadow  engine.Engine
	// all skips sampling; otherwise a request is copied when a random
	// uint64 is below threshold (sample × 2^64).
	all        bool
	threshold  uint64
	sample     float64
	writesOnly bool
	compare    bool

	queue  chan *job
	ctx    context.Context // the worker's, cancelled on release
	cancel context.CancelFunc
	done   chan struct{} // closed when the worker has returned

	mirrored, dropped, compared, mismatches, shadowErrors atomic.Uint64
}

var (
	_ engine.Engine    = (*Mirror)(nil)
	_ engine.Explainer = (*Mirror)(nil)
)

// Serve answers b from primary, then queues copies of the sampled
// requests without waiting for the shadow.
func (m *Mirror) Serve(ctx context.Context, b engine.Batch) {
	m.primary.Serve(ctx, b)
	for _, r := range b {
		if m.eligible(r) == "" && m.sampled() {
			m.enqueue(r)
		}
	}
}

// eligible returns why r is not copied, or "" if it may be. Only
// requests the primary's Redis answered are copied: mirroring one the
// proxy refused or failed would make the shadow diverge.
func (m *Mirror) eligible(r *engine.Request) string {
	if why := m.skips(&r.Cmd); why != "" {
		return why
	}
	if r.Pin != nil {
		// Queued in a transaction (or replayed at its EXEC): a copy would
		// run on the shadow at once, outside any transaction.
		return "runs on a dedicated connection"
	}
	switch r.Kind() {
	case engine.KindNone, engine.KindUpstream:
		return ""
	}
	return "the primary did not answer it"
}

// skips returns why a command is never copied, or "". Commands that
// leave state on a connection (MULTI, SUBSCRIBE, blocking pops) cannot
// share the shadow's connections.
func (m *Mirror) skips(c *resp.Command) string {
	s := c.Spec
	switch {
	case s == nil:
		return "unknown command"
	case m.writesOnly && s.Flags&resp.FlagWrite == 0:
		return "not a write (writes_only)"
	case s.Flags&(resp.FlagConnState|resp.FlagPubSub) != 0 || resp.IsBlocking(c):
		return "holds connection state"
	}
	return ""
}

func (m *Mirror) sampled() bool { return m.all || rand.Uint64() < m.threshold }

// enqueue copies r, whose buffers the server reuses once Serve returns,
// and offers the copy to the worker without blocking.
func (m *Mirror) enqueue(r *engine.Request) {
	j := jobs.Get().(*job)
	j.fill(r, m.compare)
	select {
	case m.queue <- j:
	default:
		m.dropped.Add(1)
		jobs.Put(j)
	}
}

// run is the worker: it sends queued copies to the shadow in batches
// until the tree is released.
func (m *Mirror) run() {
	defer close(m.done)
	js := make([]*job, 0, maxBatch)
	batch := make(engine.Batch, 0, maxBatch)
	for {
		select {
		case <-m.ctx.Done():
			return
		case j := <-m.queue:
			js = append(js[:0], j)
		}
	more:
		for len(js) < maxBatch {
			select {
			case j := <-m.queue:
				js = append(js, j)
			default:
				break more
			}
		}
		batch = batch[:0]
		for _, j := range js {
			batch = append(batch, j.request())
		}
		m.shadow.Serve(m.ctx, batch)
		for _, j := range js {
			m.account(j)
			jobs.Put(j)
		}
		clear(batch)
	}
}

// account counts the shadow's answer to j.
func (m *Mirror) account(j *job) {
	m.mirrored.Add(1)
	r := &j.req
	switch r.Kind() {
	case engine.KindNone, engine.KindUpstream:
	default:
		m.shadowErrors.Add(1)
		return
	}
	if !m.compare {
		return
	}
	m.compared.Add(1)
	if string(r.Raw()) != string(j.want) {
		m.mismatches.Add(1)
	}
}

// close stops the worker; queued copies are dropped with the tree. It
// does not wait: it may run on a request's goroutine, and the shadow's
// in-flight batch ends promptly on the cancelled context.
func (m *Mirror) close() {
	m.cancel()
}

// Explain records whether r would be copied, and continues with the
// primary, which answers.
func (m *Mirror) Explain(r *engine.Request, x *engine.Explanation) engine.Engine {
	if why := m.skips(&r.Cmd); why != "" {
		x.Note("served by primary; not mirrored: %s", why)
		return m.primary
	}
	cmp := ""
	if m.compare {
		cmp = ", replies compared"
	}
	if m.all {
		x.Note("served by primary; copied to shadow%s", cmp)
	} else {
		x.Note("served by primary; %g%% of such requests copied to shadow%s", m.sample*100, cmp)
	}
	return m.primary
}

// Stats counts the shadow's traffic, for telemetry.
type Stats struct {
	// Mirrored counts copies the shadow was sent.
	Mirrored uint64
	// Dropped counts copies dropped because the queue was full.
	Dropped uint64
	// Compared and Mismatches count, with compare on, shadow replies
	// checked against the primary's and those that differed.
	Compared, Mismatches uint64
	// ShadowErrors counts copies the shadow failed to answer (connection
	// errors, timeouts); they are not compared.
	ShadowErrors uint64
	// Queued is the number of copies waiting now.
	Queued int
}

// Stats returns the engine's counters.
func (m *Mirror) Stats() Stats {
	return Stats{
		Mirrored:     m.mirrored.Load(),
		Dropped:      m.dropped.Load(),
		Compared:     m.compared.Load(),
		Mismatches:   m.mismatches.Load(),
		ShadowErrors: m.shadowErrors.Load(),
		Queued:       len(m.queue),
	}
}
