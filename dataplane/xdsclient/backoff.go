package xdsclient

import (
	"math/rand/v2"
	"time"
)

// delay is the wait before reconnect attempt n (from 0): exponential from
// Min, capped at Max, with "equal jitter" (half fixed, half random) so a
// fleet that lost the control plane together does not return together.
func (b Backoff) delay(n int) time.Duration {
	d := b.Min
	for i := 0; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	half := d / 2
	return half + rand.N(half+1)
}
