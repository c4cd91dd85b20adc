package render

import (
	"fmt"

	"go.starlark.net/starlark"

	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinFailover tries children in order, moving on when one fails:
// failover(children, failure_threshold=5, cooldown="5s", label=None).
func builtinFailover(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var children *starlark.List
	threshold := kinds.FailoverDefaultFailureThreshold
	var cooldown starlark.Value = starlark.None
	var label string
	if err := unpack(fn.Name(), args, kwargs,
		"children", &children, "failure_threshold?", &threshold, "cooldown?", &cooldown, "label?", &label); err != nil {
		return nil, err
	}
	f := &keywayv1.Failover{FailureThreshold: c.count("failure_threshold", threshold, 1)}
	if err := kinds.Failover(children.Len()); err != nil {
		c.errorf("%v", err)
	}
	for i := range children.Len() {
		e, err := c.required(fmt.Sprintf("children[%d]", i), children.Index(i))
		if err != nil {
			return nil, err
		}
		f.Children = append(f.Children, e)
	}
	var err error
	if f.Cooldown, err = c.anyDuration("cooldown", cooldown, kinds.FailoverDefaultCooldown.String()); err != nil {
		return nil, err
	}
	if err := kinds.FailoverCooldown(f.Cooldown); err != nil {
		c.errorf("%v", err)
	}
	return c.engine("failover", label, &keywayv1.Engine{Kind: &keywayv1.Engine_Failover{Failover: f}}), nil
}
