package render

import (
	"go.starlark.net/starlark"

	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinMaxTTL refuses writes whose expiry is further than max:
// max_ttl(next, max, label=None).
func builtinMaxTTL(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var next, maxV starlark.Value
	var label string
	if err := unpack(fn.Name(), args, kwargs, "next", &next, "max", &maxV, "label?", &label); err != nil {
		return nil, err
	}
	m := &keywayv1.MaxTTL{}
	var err error
	if m.Max, err = c.duration("max", maxV, ""); err != nil {
		return nil, err
	}
	// A bad duration string was reported by c.duration; None was not.
	if m.Max != nil || maxV == starlark.None {
		if err := kinds.MaxTTL(m.Max); err != nil {
			c.errorf("%v", err)
		}
	}
	if m.Next, err = c.required("next", next); err != nil {
		return nil, err
	}
	return c.engine("max_ttl", label, &keywayv1.Engine{Kind: &keywayv1.Engine_MaxTtl{MaxTtl: m}}), nil
}
