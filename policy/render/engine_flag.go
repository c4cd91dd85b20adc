package render

import (
	"go.starlark.net/starlark"

	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinFlag picks on or off by the domain's feature flag name, set
// through the API without a new policy version: flag(name, on, off,
// label=None).
func builtinFlag(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var on, off starlark.Value
	f := &keywayv1.FlagSwitch{}
	var label string
	if err := unpack(fn.Name(), args, kwargs, "name", &f.Flag, "on", &on, "off", &off, "label?", &label); err != nil {
		return nil, err
	}
	if err := kinds.Flag(f.Flag); err != nil {
		c.errorf("%v", err)
	}
	var err error
	if f.On, err = c.required("on", on); err != nil {
		return nil, err
	}
	if f.Off, err = c.required("off", off); err != nil {
		return nil, err
	}
	return c.engine("flag", label, &keywayv1.Engine{Kind: &keywayv1.Engine_Flag{Flag: f}}), nil
}
