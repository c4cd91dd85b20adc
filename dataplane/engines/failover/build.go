package failover

import (
	"fmt"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Defaults, the renderer's own (policy/kinds).
const (
	DefaultFailureThreshold = kinds.FailoverDefaultFailureThreshold
	DefaultCooldown         = kinds.FailoverDefaultCooldown
)

// Build compiles a Failover.
func Build(b *engine.Builder, cfg *keywayv1.Failover) (engine.Engine, error) {
	if err := kinds.Failover(len(cfg.GetChildren())); err != nil {
		return nil, err
	}
	threshold := cfg.GetFailureThreshold()
	if threshold == 0 {
		threshold = DefaultFailureThreshold
	}
	cooldown := DefaultCooldown
	if err := kinds.FailoverCooldown(cfg.GetCooldown()); err != nil {
		return nil, err
	}
	if d := cfg.GetCooldown(); d != nil {
		cooldown = d.AsDuration()
	}
	f := &Failover{now: time.Now}
	for i, c := range cfg.GetChildren() {
		e, err := b.Child(fmt.Sprintf("children[%d]", i), c)
		if err != nil {
			return nil, err
		}
		f.children = append(f.children, child{e: e, br: &breaker{threshold: threshold, cooldown: cooldown}})
	}
	return f, nil
}
