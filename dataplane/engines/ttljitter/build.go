package ttljitter

import (
	"fmt"
	"math"

	"keyway.dev/dataplane/engine"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Build compiles a TTLJitter.
func Build(b *engine.Builder, cfg *keywayv1.TTLJitter) (engine.Engine, error) {
	share := cfg.GetShare()
	if !(share > 0 && share <= 1) || math.IsNaN(share) {
		return nil, fmt.Errorf("share must be in (0, 1], got %v", share)
	}
	j := &TTLJitter{share: share, rnd: randN}
	var err error
	if j.next, err = b.Child("next", cfg.GetNext()); err != nil {
		return nil, err
	}
	return j, nil
}
