package render

import (
	"go.starlark.net/starlark"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinUpstream is the explicit upstream leaf, for options a bare
// upstream cannot carry: upstream(target, read_from_replicas=False,
// label=None). target is an upstream or its name.
func builtinUpstream(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var target starlark.Value
	var replicas bool
	var label string
	if err := unpack(fn.Name(), args, kwargs, "target", &target, "read_from_replicas?", &replicas, "label?", &label); err != nil {
		return nil, err
	}
	var name string
	switch v := target.(type) {
	case *upstreamValue:
		name = v.msg.GetName()
	case starlark.String:
		name = string(v)
	default:
		return nil, c.typeErr("target", "an upstream or an upstream name", target)
	}
	f := &keywayv1.Forward{Name: name, ReadFromReplicas: replicas}
	return c.engine("upstream", label, &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: f}}), nil
}
