// Package failover is the Failover engine: it sends requests to the first
// of its ordered children whose circuit breaker is closed, and moves a
// request on to the next child when its child fails to connect or times
// out and resending it is safe.
package failover

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"keyway.dev/dataplane/engine"
)

// Failover tries its children in order.
type Failover struct {
	children []child
	// now is the clock, replaced in tests to drive cooldowns.
	now func() time.Time

	retried atomic.Uint64
	allOpen atomic.Uint64
}

type child struct {
	e  engine.Engine
	br *breaker
}

var (
	_ engine.Engine    = (*Failover)(nil)
	_ engine.Explainer = (*Failover)(nil)
)

// errAllOpen answers a batch no child may take. Failing fast is the
// point of a breaker: each child stays probed after its cooldown.
var errAllOpen = errors.New("keyway: failover: every child is failing (circuit breakers open)")

// Serve sends b to the first child whose breaker allows it, then resends
// the requests that failed and are safe to resend to the next allowed
// child, in the client's order, until none is left. Each child bounds
// its own wait (the upstream's timeout), and each is tried at most once
// per batch, so a batch never hangs.
func (f *Failover) Serve(ctx context.Context, b engine.Batch) {
	i := f.next(0)
	if i < 0 {
		f.allOpen.Add(1)
		for _, r := range b {
			r.Fail(engine.KindProxy, errAllOpen)
		}
		return
	}
	for {
		c := &f.children[i]
		c.e.Serve(ctx, b)
		var again engine.Batch
		bad := false
		for _, r := range b {
			switch classify(r) {
			case failed:
				bad = true
			case retry:
				bad = true
				again = append(again, r)
			}
		}
		if !bad {
			c.br.success()
			return
		}
		c.br.failure(f.now())
		if len(again) == 0 || ctx.Err() != nil {
			return
		}
		j := f.next(i + 1)
		if j < 0 {
			return // no child left: the requests keep their failure
		}
		for _, r := range again {
			rearm(r)
		}
		f.retried.Add(uint64(len(again)))
		b, i = again, j
	}
}

// next returns the first child from i on that may serve now, or -1.
func (f *Failover) next(i int) int {
	for ; i < len(f.children); i++ {
		if f.children[i].br.allow(f.now) {
			return i
		}
	}
	return -1
}

// Explain records each breaker it passes and returns the child a request
// would go to first. It changes no breaker.
func (f *Failover) Explain(_ *engine.Request, x *engine.Explanation) engine.Engine {
	now := f.now()
	for i, c := range f.children {
		switch State(c.br.state.Load()) {
		case Closed:
			x.Note("children[%d]: breaker closed", i)
			return c.e
		case Open:
			if c.br.cooled(now) {
				x.Note("children[%d]: breaker open, cooldown passed: the next batch probes it", i)
				return c.e
			}
			wait := time.Duration(c.br.openedAt.Load() + int64(c.br.cooldown) - now.UnixNano()).Round(time.Millisecond)
			x.Note("children[%d]: breaker open after %d consecutive failures, probed again in %v: skipped", i, c.br.failures.Load(), wait)
		case HalfOpen:
			x.Note("children[%d]: breaker half-open, a probe is in flight: skipped", i)
		}
	}
	x.Refuse(errAllOpen.Error())
	return nil
}

// ChildStats is one child's breaker, for telemetry.
type ChildStats struct {
	State State
	// Failures is the current run of consecutive failed batches.
	Failures uint32
	// Opened counts how many times the breaker opened.
	Opened uint64
}

// Stats is a snapshot of the engine's counters.
type Stats struct {
	Children []ChildStats
	// Retried counts requests resent to a later child.
	Retried uint64
	// AllOpen counts batches failed because every breaker was open.
	AllOpen uint64
}

// Stats returns the breakers' states and the engine's counters.
func (f *Failover) Stats() Stats {
	s := Stats{Retried: f.retried.Load(), AllOpen: f.allOpen.Load()}
	for _, c := range f.children {
		s.Children = append(s.Children, ChildStats{
			State:    State(c.br.state.Load()),
			Failures: c.br.failures.Load(),
			Opened:   c.br.opened.Load(),
		})
	}
	return s
}
