// Package observe tells the proxy's telemetry about the commands a
// frontend connection answers and the workload domain it is in: the
// Observer and Tracer interfaces keyway-proxy implements, and Conn, the
// counting one connection does on its own goroutine. Its one reason to
// change is what the frontend reports; the request loop says when.
package observe

import (
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// Observer is told about every command the server answers and about the
// workload domain of every connection. *telemetry.Recorder implements it;
// the frontend does not import telemetry so that it stays testable
// alone.
//
// Methods are called on the connection's goroutine, after the replies of
// a run are final and before they are flushed, so they must not block.
type Observer interface {
	// Observe counts one answered command: its domain, rollout track
	// ("stable" or "canary"), canonical name (resp's Spec.Name or
	// "UNKNOWN"), the upstream that answered ("" when the proxy did), the
	// error kind of the reply, request and reply sizes in bytes, and the
	// time from reading its pipeline to answering it.
	Observe(domain, track, command, upstream string, kind engine.ErrorKind, reqBytes, replyBytes int, latency time.Duration)
	// ObserveKey offers the first key of a forwarded command; the
	// observer samples.
	ObserveKey(domain string, key []byte)
	// ConnOpened and ConnClosed bracket a connection's stay in a domain:
	// from accept (or the AUTH or SETNAME that moved it in) to close (or
	// the move out). Before any policy a connection is in domain "".
	ConnOpened(domain string)
	ConnClosed(domain string)
}

// Tracer is an Observer that also traces a share of the commands it is
// told about (keyway-proxy's OpenTelemetry tracing). The sampling is
// decided before a request is served so that the upstream layer fills
// the request's Trace, and only sampled requests pay for a clock read.
type Tracer interface {
	// Sample returns a Trace to fill for a request to be traced, or nil.
	Sample() *engine.Trace
	// ObserveTrace exports a sampled command answered from start to end;
	// up is its upstream timing, nil when it was decided after the fact
	// (commands served outside an engine run).
	ObserveTrace(domain, command, upstream string, kind engine.ErrorKind, start, end time.Time, up *engine.Trace)
}

// Nop is the Observer of a frontend without telemetry.
type Nop struct{}

func (Nop) Observe(string, string, string, string, engine.ErrorKind, int, int, time.Duration) {}
func (Nop) ObserveKey(string, []byte)                                                         {}
func (Nop) ConnOpened(string)                                                                 {}
func (Nop) ConnClosed(string)                                                                 {}

// Tracks are the rollout track labels.
const (
	TrackStable = "stable"
	TrackCanary = "canary"
)

// Track is the rollout track label of a session.
func Track(canary bool) string {
	if canary {
		return TrackCanary
	}
	return TrackStable
}

// Conn is the counting of one connection, on its goroutine: whether it
// is counted in a domain, and the request sizes of the run being built.
// ReadAt is when the current pipeline was read, from which latencies
// (and upstream deadlines) run.
type Conn struct {
	obs    Observer
	tracer Tracer // obs when it traces, else nil: found once, not per request
	ReadAt time.Time

	counted bool
	sizes   []int
	keys    []int
}

// NewConn returns the counting of a connection that reports to obs and,
// when it traces, to tracer (obs itself, or nil).
func NewConn(obs Observer, tracer Tracer) Conn { return Conn{obs: obs, tracer: tracer} }

// Opened counts a newly accepted connection in domain, the one it would
// be placed in now, so an idle connection is counted where it belongs.
func (c *Conn) Opened(domain string) {
	c.counted = true
	c.obs.ConnOpened(domain)
}

// Moved counts a connection leaving domain from for domain to; before
// Opened it does nothing.
func (c *Conn) Moved(from, to string) {
	if !c.counted {
		return
	}
	c.obs.ConnClosed(from)
	c.obs.ConnOpened(to)
}

// Gone counts a closed connection out of domain.
func (c *Conn) Gone(domain string) {
	if !c.counted {
		return
	}
	c.counted = false
	c.obs.ConnClosed(domain)
}

// SetSize records the request size of the i-th command of the run being
// built.
func (c *Conn) SetSize(i, n int) {
	for i >= len(c.sizes) {
		c.sizes = append(c.sizes, 0)
	}
	c.sizes[i] = n
}

// Run counts a served run of a connection in domain on track. Latency
// is measured once per run, from the moment its pipeline was read:
// per-request clocks would cost more than the counting, and requests of
// one run are answered together.
func (c *Conn) Run(run engine.Batch, domain, track string) {
	lat := time.Since(c.ReadAt)
	obs := c.obs
	for i, r := range run {
		obs.Observe(domain, track, r.Cmd.Name(), r.Upstream, r.Kind(), c.sizes[i], len(r.Raw()), lat)
		if key := c.firstKey(&r.Cmd); key != nil {
			obs.ObserveKey(domain, key)
		}
	}
	c.traceRun(run, domain, c.ReadAt.Add(lat))
}

// firstKey is the command's first key, or nil. Fixed positions are read
// directly; only movable-key commands pay for the key walk.
func (c *Conn) firstKey(cmd *resp.Command) []byte {
	s := cmd.Spec
	switch {
	case s == nil:
		return nil
	case s.Keys == nil:
		if s.FirstKey > 0 && s.Step > 0 && s.FirstKey < len(cmd.Args) {
			return cmd.Args[s.FirstKey]
		}
		return nil
	}
	c.keys = cmd.Keys(c.keys[:0])
	if len(c.keys) == 0 {
		return nil
	}
	return cmd.Args[c.keys[0]]
}

// One counts a command answered outside an engine run (connection-local,
// refused before dispatch, or on a pinned connection), whose reply of
// replyBytes has error kind kind (engine.KindNone when it is no error).
func (c *Conn) One(args [][]byte, domain, track, upstream string, kind engine.ErrorKind, reqBytes, replyBytes int) {
	name := "UNKNOWN"
	if s := resp.Resolve(args); s != nil {
		name = s.Name
	}
	c.obs.Observe(domain, track, name, upstream, kind, reqBytes, replyBytes, time.Since(c.ReadAt))
	c.traceOne(domain, name, upstream, kind)
}

// Sample marks r for tracing when the observer traces and samples it.
func (c *Conn) Sample(r *engine.Request) {
	r.Trace = nil
	if c.tracer != nil {
		r.Trace = c.tracer.Sample()
	}
}

// traceRun exports the sampled requests of a served run.
func (c *Conn) traceRun(run engine.Batch, domain string, end time.Time) {
	t := c.tracer
	if t == nil {
		return
	}
	for _, r := range run {
		if r.Trace != nil {
			t.ObserveTrace(domain, r.Cmd.Name(), r.Upstream, r.Kind(), c.ReadAt, end, r.Trace)
		}
	}
}

// traceOne samples and exports a command answered outside an engine run,
// which carries no upstream timing.
func (c *Conn) traceOne(domain, command, upstream string, kind engine.ErrorKind) {
	t := c.tracer
	if t == nil {
		return
	}
	if up := t.Sample(); up != nil {
		t.ObserveTrace(domain, command, upstream, kind, c.ReadAt, time.Now(), nil)
	}
}
