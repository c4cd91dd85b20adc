package upstream

import (
	"sync"
	"sync/atomic"
	"time"
)

// BreakerState is the state of a node's circuit breaker.
type BreakerState uint8

// Breaker states.
const (
	// BreakerClosed: connections are made and requests flow.
	BreakerClosed BreakerState = iota
	// BreakerOpen: requests fail fast until the cooldown passes.
	BreakerOpen
	// BreakerHalfOpen: one probe connection is being tried.
	BreakerHalfOpen
)

// String is the telemetry label of s.
func (s BreakerState) String() string {
	switch s {
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return "closed"
}

// breaker counts consecutive connection failures of one node. Only
// connecting feeds it: a slow reply is a timeout, not a failure to
// connect, and a node that accepts connections is worth trying.
type breaker struct {
	threshold int
	cooldown  time.Duration

	mu       sync.Mutex
	state    BreakerState
	failures int
	openedAt time.Time
	cause    error
	// changed is closed and replaced on every state change, waking the
	// connection loops that wait for the breaker.
	changed chan struct{}
	// fast mirrors state so the request path reads it without the lock.
	fast atomic.Uint32
}

func newBreaker(threshold int, cooldown time.Duration) *breaker {
	return &breaker{threshold: threshold, cooldown: cooldown, changed: make(chan struct{})}
}

// allow reports whether a connection attempt may be made now. When the
// cooldown of an open breaker has passed, the first caller becomes the
// probe and the breaker is half-open until it reports. Otherwise it
// returns how long to wait and a channel closed on the next change.
func (b *breaker) allow(now time.Time) (bool, time.Duration, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerClosed:
		return true, 0, nil
	case BreakerOpen:
		if wait := b.openedAt.Add(b.cooldown).Sub(now); wait > 0 {
			return false, wait, b.changed
		}
		b.set(BreakerHalfOpen)
		return true, 0, nil
	}
	return false, b.cooldown, b.changed
}

// failure records a failed connection attempt.
func (b *breaker) failure(now time.Time, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cause = err
	b.failures++
	if b.state == BreakerHalfOpen || (b.state == BreakerClosed && b.failures >= b.threshold) {
		b.openedAt = now
		b.set(BreakerOpen)
	}
}

// success records a connection made.
func (b *breaker) success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures = 0
	b.cause = nil
	if b.state != BreakerClosed {
		b.set(BreakerClosed)
	}
}

// open reports whether requests must fail fast, and why.
func (b *breaker) open() (bool, error) {
	if BreakerState(b.fast.Load()) == BreakerClosed {
		return false, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state != BreakerClosed, b.cause
}

// changes returns a channel closed on the next state change.
func (b *breaker) changes() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.changed
}

// State is the current state.
func (b *breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

func (b *breaker) set(s BreakerState) {
	b.state = s
	b.fast.Store(uint32(s))
	close(b.changed)
	b.changed = make(chan struct{})
}
