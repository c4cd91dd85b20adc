package maxttl

import (
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Build compiles a MaxTTL; its rules are the renderer's (policy/kinds).
func Build(b *engine.Builder, cfg *keywayv1.MaxTTL) (engine.Engine, error) {
	if err := kinds.MaxTTL(cfg.GetMax()); err != nil {
		return nil, err
	}
	m := &MaxTTL{max: cfg.GetMax().AsDuration(), now: time.Now}
	var err error
	if m.next, err = b.Child("next", cfg.GetNext()); err != nil {
		return nil, err
	}
	return m, nil
}
