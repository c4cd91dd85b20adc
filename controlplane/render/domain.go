package render

import (
	"go.starlark.net/starlark"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinDomain declares a workload domain and its engine tree:
// domain(name, engine).
func builtinDomain(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var name string
	var engine starlark.Value = starlark.None
	if err := unpack(fn.Name(), args, kwargs, "name", &name, "engine?", &engine); err != nil {
		return nil, err
	}
	root, err := c.child("engine", engine)
	if err != nil {
		return nil, err
	}
	if root == nil {
		c.errorf("domain %q has no engine (give an engine or an upstream as its second argument)", name)
	}
	c.declare("domain", name, c.st.domains)
	c.st.policy.Domains = append(c.st.policy.Domains, &keywayv1.DomainPolicy{Name: name, Root: root, Source: c.source()})
	return starlark.None, nil
}
