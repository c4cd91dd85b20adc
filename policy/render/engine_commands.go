package render

import (
	"go.starlark.net/starlark"

	"keyway.dev/policy/kinds"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinCommands answers KEYWAY.LOCK, KEYWAY.UNLOCK and KEYWAY.EXTEND and
// passes everything else on: commands(next, locks=None,
// lock_prefix="keyway:lock:", label=None).
func builtinCommands(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var next, locks starlark.Value = nil, starlark.None
	m := &keywayv1.Commands{LockPrefix: kinds.CommandsDefaultLockPrefix}
	var label string
	if err := unpack(fn.Name(), args, kwargs,
		"next", &next, "locks?", &locks, "lock_prefix?", &m.LockPrefix, "label?", &label); err != nil {
		return nil, err
	}
	var err error
	if m.Next, err = c.required("next", next); err != nil {
		return nil, err
	}
	if m.Locks, err = c.child("locks", locks); err != nil {
		return nil, err
	}
	if err := kinds.Commands(m.Locks != nil, m.LockPrefix); err != nil {
		c.errorf("%v", err)
	}
	return c.engine("commands", label, &keywayv1.Engine{Kind: &keywayv1.Engine_Commands{Commands: m}}), nil
}
