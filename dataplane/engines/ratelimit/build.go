package ratelimit

import (
	"fmt"
	"strconv"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Defaults the renderer also applies.
const (
	DefaultBurstSeconds = kinds.RateLimitDefaultBurstSeconds
	DefaultMaxDelay     = kinds.RateLimitDefaultMaxDelay
)

// epoch makes the limiter's clock monotonic: durations since it.
var epoch = time.Now()

// Build compiles a RateLimit. The buckets start full, so a new policy
// version does not throttle a domain that was within its limit.
func Build(b *engine.Builder, cfg *keywayv1.RateLimit) (engine.Engine, error) {
	ops, bytes := cfg.GetOpsPerSecond(), cfg.GetBytesPerSecond()
	if err := kinds.RateLimitRates(ops, bytes); err != nil {
		return nil, err
	}
	burst := cfg.GetBurstSeconds()
	if burst == 0 {
		burst = DefaultBurstSeconds
	}
	if err := kinds.RateLimitBurst(burst); err != nil {
		return nil, err
	}
	l := &Limiter{
		ops:      newBucket(ops, burst),
		bytes:    newBucket(bytes, burst),
		priority: cfg.GetPriority(),
		env:      b.Env,
		now:      func() time.Duration { return time.Since(epoch) },
		sleep:    sleepCtx,
	}
	if l.env == nil {
		// Unit tests build without an Env; priorities then see only this
		// limiter's own load.
		l.env = &engine.Env{}
	}
	l.last = l.now()
	switch cfg.GetMode() {
	case keywayv1.RateLimit_MODE_UNSPECIFIED, keywayv1.RateLimit_MODE_REFUSE:
		if err := kinds.RateLimitMaxDelay(false, cfg.GetMaxDelay()); err != nil {
			return nil, err
		}
	case keywayv1.RateLimit_MODE_DELAY:
		l.delay = true
		l.maxDelay = DefaultMaxDelay
		if err := kinds.RateLimitMaxDelay(true, cfg.GetMaxDelay()); err != nil {
			return nil, err
		}
		if d := cfg.GetMaxDelay(); d != nil {
			l.maxDelay = d.AsDuration()
		}
	default:
		return nil, fmt.Errorf("unknown mode %v", cfg.GetMode())
	}
	suffix := ""
	if l.delay {
		suffix = fmt.Sprintf(" (a wait over max_delay %s)", l.maxDelay)
	}
	l.opsErr = fmt.Errorf("keyway: rate limit of %s ops/s for domain %q exceeded%s", formatRate(ops), b.Domain, suffix)
	l.bytesErr = fmt.Errorf("keyway: rate limit of %s bytes/s for domain %q exceeded%s", formatRate(bytes), b.Domain, suffix)
	var err error
	if l.next, err = b.Child("next", cfg.GetNext()); err != nil {
		return nil, err
	}
	return l, nil
}

// formatRate prints 50000 as "50000" and 0.5 as "0.5", never "5e+04".
func formatRate(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
