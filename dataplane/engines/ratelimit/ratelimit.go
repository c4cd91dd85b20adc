// Package ratelimit is the RateLimit engine: token buckets for a domain's
// operations and bytes per second. Over the limit a request is refused
// with an error naming the limit, or, in delay mode, held until the bucket
// allows it (up to max_delay). Low-priority domains are limited harder
// while the proxy is saturated.
package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"keyway.dev/dataplane/engine"
)

// Limiter is one rate limit: one per engine instance, so one per domain
// tree that declares it. Its buckets sit behind one small mutex, taken
// once per batch.
type Limiter struct {
	mu    sync.Mutex
	last  time.Duration
	ops   bucket
	bytes bucket

	delay    bool
	maxDelay time.Duration
	priority uint32
	env      *engine.Env
	next     engine.Engine

	opsErr, bytesErr error
	now              func() time.Duration
	sleep            func(ctx context.Context, d time.Duration) error
	stats            Stats
}

var (
	_ engine.Engine    = (*Limiter)(nil)
	_ engine.Explainer = (*Limiter)(nil)
	_ engine.Admitter  = (*Limiter)(nil)
)

// Admitted is next: a limiter charges, delays or refuses requests and
// passes the rest unchanged, so a transaction's replayed results, charged
// when they were queued, skip it.
func (l *Limiter) Admitted() engine.Engine { return l.next }

// DefaultSaturation is the proxy-wide in-flight count above which
// priorities apply when engine.Env.Saturation is 0.
const DefaultSaturation = 10000

// Stats counts what a limiter did, for telemetry.
type Stats struct {
	Admitted atomic.Uint64
	Delayed  atomic.Uint64
	Refused  atomic.Uint64
}

// Serve takes tokens for each request in order, refuses those over the
// limit, waits in delay mode for the longest admitted reservation, and
// passes the admitted requests, in order, to next.
func (l *Limiter) Serve(ctx context.Context, b engine.Batch) {
	scale := l.scale()
	var longest time.Duration
	refused := 0
	l.mu.Lock()
	now := l.now()
	elapsed := (now - l.last).Seconds()
	l.last = now
	l.ops.refill(elapsed, scale)
	l.bytes.refill(elapsed, scale)
	for _, r := range b {
		cost := float64(requestBytes(r))
		wo, wb := l.ops.wait(1, scale), l.bytes.wait(cost, scale)
		w := max(wo, wb)
		if w > 0 && (!l.delay || w > l.maxDelay) {
			refused++
			if wo >= wb {
				r.Fail(engine.KindRefused, l.opsErr)
			} else {
				r.Fail(engine.KindRefused, l.bytesErr)
			}
			continue
		}
		l.ops.take(1)
		l.bytes.take(cost)
		longest = max(longest, w)
	}
	l.mu.Unlock()

	l.stats.Refused.Add(uint64(refused))
	l.stats.Admitted.Add(uint64(len(b) - refused))
	if refused == len(b) {
		return
	}
	rest := b
	if refused > 0 {
		rest = make(engine.Batch, 0, len(b)-refused)
		for _, r := range b {
			if !r.Done() {
				rest = append(rest, r)
			}
		}
	}
	if longest > 0 {
		l.stats.Delayed.Add(uint64(len(rest)))
		if err := l.sleep(ctx, longest); err != nil {
			err = fmt.Errorf("keyway: waiting for the rate limit: %w", err)
			for _, r := range rest {
				r.Fail(engine.KindTimeout, err)
			}
			return
		}
	}
	if l.env != nil {
		l.env.InFlight.Add(int64(len(rest)))
		defer l.env.InFlight.Add(-int64(len(rest)))
	}
	l.next.Serve(ctx, rest)
}

// scale is the share of the configured rates in force: 1, or
// 1/(1+priority) while the proxy's in-flight count is above saturation,
// so priority 0 is never scaled, 1 gets half its rate, 3 a quarter.
func (l *Limiter) scale() float64 {
	if l.priority == 0 || l.env == nil {
		return 1
	}
	limit := l.env.Saturation
	if limit == 0 {
		limit = DefaultSaturation
	}
	if limit < 0 || l.env.InFlight.Load() <= limit {
		return 1
	}
	return 1 / float64(1+l.priority)
}

// requestBytes is what the bytes bucket charges: the sum of the
// argument lengths, name included.
func requestBytes(r *engine.Request) int {
	n := 0
	for _, a := range r.Cmd.Args {
		n += len(a)
	}
	return n
}

// Explain notes the limits; whether a request would be limited depends
// on traffic, so the walk always goes on.
func (l *Limiter) Explain(_ *engine.Request, x *engine.Explanation) engine.Engine {
	mode := "refuse"
	if l.delay {
		mode = fmt.Sprintf("delay up to %s", l.maxDelay)
	}
	x.Note("limit %s, %s over it, priority %d", l.describe(), mode, l.priority)
	return l.next
}

func (l *Limiter) describe() string {
	switch {
	case l.ops.rate > 0 && l.bytes.rate > 0:
		return formatRate(l.ops.rate) + " ops/s and " + formatRate(l.bytes.rate) + " bytes/s"
	case l.ops.rate > 0:
		return formatRate(l.ops.rate) + " ops/s"
	}
	return formatRate(l.bytes.rate) + " bytes/s"
}

// Stats returns the limiter's counters.
func (l *Limiter) Stats() *Stats { return &l.stats }

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
