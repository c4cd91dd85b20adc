// Package backoff is the one retry pause of Keyway: every loop that
// reconnects or retries (upstream nodes, the proxy's xDS stream, cluster
// retries, the control plane's etcd watch) takes its wait from here, so
// the fleet-wide rule "exponential, capped, jittered where many peers
// retry together" is written once.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Exponential doubles a pause from Min up to Max. With Jitter the pause
// is "equal jitter": half of it fixed, half random, so that a fleet that
// lost a peer together does not come back together; without, it is
// exact, for retries of one request where spreading buys nothing.
type Exponential struct {
	Min, Max time.Duration
	Jitter   bool
}

// Delay is the pause before retry attempt (0 for the first retry).
func (e Exponential) Delay(attempt int) time.Duration {
	d := e.Min
	for i := 0; i < attempt && d < e.Max; i++ {
		d *= 2
	}
	d = min(d, e.Max)
	if !e.Jitter || d <= 0 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// Wait sleeps for d or until ctx ends, and reports whether the whole
// pause passed.
func Wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Retrier counts the attempts of one loop that alternates between trying
// and waiting, as a watch that reconnects does: Wait pauses for the next
// delay, Reset starts over after a success.
type Retrier struct {
	Exponential
	attempt int
}

// Wait pauses before the next attempt; false when ctx ended first.
func (r *Retrier) Wait(ctx context.Context) bool {
	d := r.Delay(r.attempt)
	r.attempt++
	return Wait(ctx, d)
}

// Reset makes the next pause the shortest again.
func (r *Retrier) Reset() { r.attempt = 0 }
