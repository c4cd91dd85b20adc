package keywaycmd

import (
	"keyway.dev/dataplane/engine"
	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// DefaultLockPrefix is where lock keys live when the policy names no
// prefix; the renderer sets the same default (policy/kinds).
const DefaultLockPrefix = kinds.CommandsDefaultLockPrefix

// Build compiles a Commands engine and its two children.
func Build(b *engine.Builder, cfg *keywayv1.Commands) (engine.Engine, error) {
	c := &Commands{prefix: cfg.GetLockPrefix()}
	if c.prefix == "" {
		c.prefix = DefaultLockPrefix
	}
	if err := kinds.Commands(cfg.GetLocks() != nil, c.prefix); err != nil {
		return nil, err
	}
	var err error
	if c.locks, err = b.Child("locks", cfg.GetLocks()); err != nil {
		return nil, err
	}
	if c.next, err = b.Child("next", cfg.GetNext()); err != nil {
		return nil, err
	}
	return c, nil
}
