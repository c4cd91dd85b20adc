package kinds

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
)

// MaxTTLLimit is the longest max a max_ttl may set: the longest relative
// TTL the proxy reads (about 35 years; see dataplane's ttlarg), so a cap
// above it could never refuse anything.
const MaxTTLLimit = time.Duration(1<<40) * time.Millisecond

// MaxTTL checks a max_ttl's max: set, at least a millisecond (the
// finest unit Redis takes) and a whole number of them, at most
// MaxTTLLimit.
func MaxTTL(max *durationpb.Duration) error {
	if max == nil {
		return fmt.Errorf("max is required: the longest TTL a write may set")
	}
	d := max.AsDuration()
	switch {
	case d < time.Millisecond:
		return fmt.Errorf("max must be at least 1ms, got %s", d)
	case d%time.Millisecond != 0:
		return fmt.Errorf("max must be whole milliseconds (Redis's finest TTL), got %s", d)
	case d > MaxTTLLimit:
		return fmt.Errorf("max %s is above %s, the longest TTL the proxy reads", d, MaxTTLLimit)
	}
	return nil
}
