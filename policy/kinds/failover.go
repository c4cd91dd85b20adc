package kinds

import (
	"fmt"

	"google.golang.org/protobuf/types/known/durationpb"
)

// FailoverCooldown checks a failover's cooldown; nil is the default
// (FailoverDefaultCooldown). A cooldown of zero or less would retry a
// failed child on the very next request, which is no breaker at all.
func FailoverCooldown(cooldown *durationpb.Duration) error {
	if cooldown == nil {
		return nil
	}
	if err := cooldown.CheckValid(); err != nil {
		return fmt.Errorf("cooldown: %w", err)
	}
	if d := cooldown.AsDuration(); d <= 0 {
		return fmt.Errorf("cooldown must be positive, got %s", d)
	}
	return nil
}
