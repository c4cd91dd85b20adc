package server

import (
	"time"

	"keyway.dev/dataplane/engine"
)

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

// sample marks r for tracing when the observer traces and samples it.
func (c *client) sample(r *engine.Request) {
	r.Trace = nil
	if c.srv.tracer != nil {
		r.Trace = c.srv.tracer.Sample()
	}
}

// traceRun exports the sampled requests of a served run.
func (c *client) traceRun(run engine.Batch, end time.Time) {
	t := c.srv.tracer
	if t == nil {
		return
	}
	for _, r := range run {
		if r.Trace != nil {
			t.ObserveTrace(c.sess.Domain, r.Cmd.Name(), r.Upstream, r.Kind(), c.readAt, end, r.Trace)
		}
	}
}

// traceOne samples and exports a command answered outside an engine run,
// which carries no upstream timing.
func (c *client) traceOne(command, upstream string, kind engine.ErrorKind) {
	t := c.srv.tracer
	if t == nil {
		return
	}
	if up := t.Sample(); up != nil {
		t.ObserveTrace(c.sess.Domain, command, upstream, kind, c.readAt, time.Now(), nil)
	}
}
