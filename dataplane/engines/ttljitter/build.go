package ttljitter

import (
	"keyway.dev/dataplane/engine"
	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Build compiles a TTLJitter.
func Build(b *engine.Builder, cfg *keywayv1.TTLJitter) (engine.Engine, error) {
	share := cfg.GetShare()
	if err := kinds.Share("share", share); err != nil {
		return nil, err
	}
	j := &TTLJitter{share: share, rnd: randN}
	var err error
	if j.next, err = b.Child("next", cfg.GetNext()); err != nil {
		return nil, err
	}
	return j, nil
}
