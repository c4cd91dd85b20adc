package failover

import (
	"sync/atomic"
	"time"
)

// State is a child's circuit breaker state.
type State uint32

// Breaker states.
const (
	// Closed: the child gets requests.
	Closed State = iota
	// Open: the child is skipped until its cooldown passes.
	Open
	// HalfOpen: one batch, the probe, is being served by the child; the
	// others skip it until the probe's outcome closes or reopens it.
	HalfOpen
)

// String is the telemetry label of s.
func (s State) String() string {
	switch s {
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return "closed"
}

// breaker counts one child's consecutive failed batches. The request
// path reads it with atomic loads only; it writes only on failures and
// on the first success after them.
type breaker struct {
	threshold uint32
	cooldown  time.Duration

	state    atomic.Uint32
	failures atomic.Uint32
	// openedAt is when the breaker last opened, in Unix nanoseconds.
	openedAt atomic.Int64
	opened   atomic.Uint64
}

// allow reports whether the child may serve a batch now. The first
// caller after an open breaker's cooldown becomes the probe.
func (b *breaker) allow(now func() time.Time) bool {
	switch State(b.state.Load()) {
	case Closed:
		return true
	case Open:
		if !b.cooled(now()) {
			return false
		}
		return b.state.CompareAndSwap(uint32(Open), uint32(HalfOpen))
	}
	return false
}

// cooled reports whether an open breaker's cooldown has passed at t.
func (b *breaker) cooled(t time.Time) bool {
	return t.UnixNano()-b.openedAt.Load() >= int64(b.cooldown)
}

// success records a batch the child answered.
func (b *breaker) success() {
	if b.failures.Load() != 0 {
		b.failures.Store(0)
	}
	if State(b.state.Load()) != Closed {
		b.state.Store(uint32(Closed))
	}
}

// failure records a batch in which the child failed to answer. A failed
// probe reopens the breaker for another cooldown.
func (b *breaker) failure(now time.Time) {
	n := b.failures.Add(1)
	switch State(b.state.Load()) {
	case HalfOpen:
		b.open(now, HalfOpen)
	case Closed:
		if n >= b.threshold {
			b.open(now, Closed)
		}
	}
}

func (b *breaker) open(now time.Time, from State) {
	// openedAt first: a reader that sees Open must see its time.
	b.openedAt.Store(now.UnixNano())
	if b.state.CompareAndSwap(uint32(from), uint32(Open)) {
		b.opened.Add(1)
	}
}
