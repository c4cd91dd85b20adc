package ratelimit

import "time"

// bucket is a token bucket whose balance may go negative: a delayed
// request reserves its tokens up front and waits until the refill has
// paid the debt, the way golang.org/x/time/rate reservations work. The
// owner holds the mutex around every method.
type bucket struct {
	rate   float64 // tokens per second; 0 means no limit
	size   float64 // burst: rate * burst_seconds
	tokens float64
}

func newBucket(rate, burstSeconds float64) bucket {
	size := rate * burstSeconds
	return bucket{rate: rate, size: size, tokens: size}
}

// refill adds what elapsed seconds at rate*scale earn, up to size.
func (b *bucket) refill(elapsed, scale float64) {
	if b.rate == 0 {
		return
	}
	b.tokens += elapsed * b.rate * scale
	if b.tokens > b.size {
		b.tokens = b.size
	}
}

// wait is how long until a request costing cost may go: a request is
// admitted once the balance covers it, or covers the whole bucket when it
// costs more than the bucket holds (otherwise it could never pass).
func (b *bucket) wait(cost, scale float64) time.Duration {
	if b.rate == 0 {
		return 0
	}
	need := min(cost, b.size)
	if b.tokens >= need {
		return 0
	}
	secs := (need - b.tokens) / (b.rate * scale)
	return time.Duration(secs * float64(time.Second))
}

func (b *bucket) take(cost float64) {
	if b.rate != 0 {
		b.tokens -= cost
	}
}
