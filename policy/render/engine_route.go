package render

import (
	"fmt"

	"go.starlark.net/starlark"

	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinRoute chooses a child by key prefix, longest match first:
// route(routes={"prefix:": engine, ...}, default=engine, label=None).
func builtinRoute(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var routes *starlark.Dict
	var def starlark.Value = starlark.None
	var label string
	if err := unpack(fn.Name(), args, kwargs, "routes?", &routes, "default?", &def, "label?", &label); err != nil {
		return nil, err
	}
	r := &keywayv1.Route{}
	if routes != nil {
		for _, kv := range routes.Items() {
			prefix, ok := starlark.AsString(kv[0])
			if !ok {
				return nil, c.typeErr("routes key", "a key prefix string", kv[0])
			}
			e, err := c.required(fmt.Sprintf("routes[%q]", prefix), kv[1])
			if err != nil {
				return nil, err
			}
			r.Routes = append(r.Routes, &keywayv1.PrefixRoute{Prefix: prefix, Engine: e})
		}
	}
	var err error
	if r.Default, err = c.child("default", def); err != nil {
		return nil, err
	}
	prefixes := make([]string, len(r.Routes))
	for i, pr := range r.Routes {
		prefixes[i] = pr.GetPrefix()
	}
	for _, err := range kinds.Route(r.Default != nil, prefixes) {
		c.errorf("%v", err)
	}
	return c.engine("route", label, &keywayv1.Engine{Kind: &keywayv1.Engine_Route{Route: r}}), nil
}
