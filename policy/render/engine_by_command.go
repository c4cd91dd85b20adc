package render

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"

	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinByCommand routes by command class or name: by_command(reads=,
// writes=, admin=, blocking=, pubsub=, commands={"GET": engine}, default=,
// label=None). A commands key may also be a tuple of names.
func builtinByCommand(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var reads, writes, admin, blocking, pubsub, def starlark.Value = starlark.None, starlark.None, starlark.None, starlark.None, starlark.None, starlark.None
	var cmds *starlark.Dict
	var label string
	if err := unpack(fn.Name(), args, kwargs,
		"reads?", &reads, "writes?", &writes, "admin?", &admin, "blocking?", &blocking, "pubsub?", &pubsub,
		"commands?", &cmds, "default?", &def, "label?", &label); err != nil {
		return nil, err
	}
	b := &keywayv1.ByCommand{}
	for _, f := range []struct {
		arg string
		v   starlark.Value
		dst **keywayv1.Engine
	}{{"reads", reads, &b.Reads}, {"writes", writes, &b.Writes}, {"admin", admin, &b.Admin},
		{"blocking", blocking, &b.Blocking}, {"pubsub", pubsub, &b.Pubsub}, {"default", def, &b.Default}} {
		e, err := c.child(f.arg, f.v)
		if err != nil {
			return nil, err
		}
		*f.dst = e
	}
	if cmds != nil {
		seen := map[string]bool{}
		for _, kv := range cmds.Items() {
			names, err := c.commandNames("commands key", kv[0])
			if err != nil {
				return nil, err
			}
			for _, n := range names {
				if seen[n] {
					c.errorf("%v", kinds.ListedTwice("commands", n))
				}
				seen[n] = true
			}
			e, err := c.required(fmt.Sprintf("commands[%q]", strings.Join(names, ",")), kv[1])
			if err != nil {
				return nil, err
			}
			b.Commands = append(b.Commands, &keywayv1.CommandRoute{Names: names, Engine: e})
		}
	}
	if err := kinds.ByCommand(b.Default != nil); err != nil {
		c.errorf("%v", err)
	}
	return c.engine("by_command", label, &keywayv1.Engine{Kind: &keywayv1.Engine_ByCommand{ByCommand: b}}), nil
}
