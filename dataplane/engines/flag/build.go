package flag

import (
	"keyway.dev/dataplane/engine"
	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Build compiles a Switch for the builder's domain. A flag that the
// control plane has not set is off, so a policy may name a flag before
// anyone sets it.
func Build(b *engine.Builder, cfg *keywayv1.FlagSwitch) (engine.Engine, error) {
	if err := kinds.Flag(cfg.GetFlag()); err != nil {
		return nil, err
	}
	s := &Switch{flag: cfg.GetFlag(), domain: b.Domain, key: engine.FlagKey(b.Domain, cfg.GetFlag()), env: b.Env}
	var err error
	if s.on, err = b.Child("on", cfg.GetOn()); err != nil {
		return nil, err
	}
	if s.off, err = b.Child("off", cfg.GetOff()); err != nil {
		return nil, err
	}
	return s, nil
}
