package render

import (
	"go.starlark.net/starlark"

	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinTTLJitter spreads TTLs by up to share of their value, so keys
// written together do not expire together: ttl_jitter(share, next,
// label=None).
func builtinTTLJitter(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var shareV, next starlark.Value
	var label string
	if err := unpack(fn.Name(), args, kwargs, "share", &shareV, "next", &next, "label?", &label); err != nil {
		return nil, err
	}
	t := &keywayv1.TTLJitter{}
	var err error
	if t.Share, err = c.number("share", shareV, 0); err != nil {
		return nil, err
	}
	if err := kinds.Share("share", t.Share); err != nil {
		c.errorf("%v", err)
	}
	if t.Next, err = c.required("next", next); err != nil {
		return nil, err
	}
	return c.engine("ttl_jitter", label, &keywayv1.Engine{Kind: &keywayv1.Engine_TtlJitter{TtlJitter: t}}), nil
}
