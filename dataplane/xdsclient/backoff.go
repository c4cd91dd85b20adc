package xdsclient

import (
	"time"

	"keyway.dev/proto/backoff"
)

// delay is the wait before reconnect attempt n (from 0), jittered so a
// fleet that lost the control plane together does not return together.
func (b Backoff) delay(n int) time.Duration {
	return backoff.Exponential{Min: b.Min, Max: b.Max, Jitter: true}.Delay(n)
}
