package keywaycmd

import (
	"errors"

	"keyway.dev/dataplane/engine"
	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// DefaultLockPrefix is where lock keys live when the policy names no
// prefix; the renderer sets the same default (policy/kinds).
const DefaultLockPrefix = kinds.CommandsDefaultLockPrefix

// Build compiles a Commands engine and its two children.
func Build(b *engine.Builder, cfg *keywayv1.Commands) (engine.Engine, error) {
	if cfg.GetLocks() == nil {
		return nil, errors.New("locks is required: the engine lock keys are stored through")
	}
	c := &Commands{prefix: cfg.GetLockPrefix()}
	if c.prefix == "" {
		c.prefix = DefaultLockPrefix
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
