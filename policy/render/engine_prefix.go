package render

import (
	"go.starlark.net/starlark"

	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinPrefix namespaces keys on the way to Redis:
// prefix(prefix, next, label=None).
func builtinPrefix(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var next starlark.Value
	p := &keywayv1.Prefix{}
	var label string
	if err := unpack(fn.Name(), args, kwargs, "prefix", &p.Prefix, "next", &next, "allow_scripts?", &p.AllowScripts, "label?", &label); err != nil {
		return nil, err
	}
	if err := kinds.Prefix(p.Prefix); err != nil {
		c.errorf("%v", err)
	}
	var err error
	if p.Next, err = c.required("next", next); err != nil {
		return nil, err
	}
	return c.engine("prefix", label, &keywayv1.Engine{Kind: &keywayv1.Engine_Prefix{Prefix: p}}), nil
}
