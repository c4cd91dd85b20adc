package kinds

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/types/known/durationpb"
)

// RateLimitDefaultBurstSeconds is the burst an unset burst_seconds means.
const RateLimitDefaultBurstSeconds = 1.0

// ErrRateLimitNoRate is a ratelimit with neither rate: it would limit
// nothing.
var ErrRateLimitNoRate = errors.New("give ops_per_second or bytes_per_second (a limit of nothing limits nothing)")

// RateLimitRates checks a ratelimit's two rates: finite, not negative,
// not both zero.
func RateLimitRates(ops, bytes float64) error {
	if ops < 0 || bytes < 0 || !finite(ops) || !finite(bytes) {
		return fmt.Errorf("rates must be finite and not negative, got %v ops/s and %v bytes/s", ops, bytes)
	}
	if ops == 0 && bytes == 0 {
		return ErrRateLimitNoRate
	}
	return nil
}

// RateLimitBurst checks the burst in effect.
func RateLimitBurst(burst float64) error {
	if !(burst > 0) || !finite(burst) {
		return fmt.Errorf("burst_seconds must be > 0, got %v", burst)
	}
	return nil
}

// RateLimitMaxDelay checks max_delay against the mode: only a delaying
// limiter waits, and its wait must be positive.
func RateLimitMaxDelay(delay bool, maxDelay *durationpb.Duration) error {
	if maxDelay == nil {
		return nil
	}
	if !delay {
		return errors.New(`max_delay only applies to mode "delay"`)
	}
	if d := maxDelay.AsDuration(); d <= 0 {
		return fmt.Errorf("max_delay must be positive, got %s", d)
	}
	return nil
}
