package render

import (
	"go.starlark.net/starlark"

	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinReject refuses commands by name or key prefix and passes the
// rest on: reject(next, commands=[], key_prefixes=[], message="...",
// label=None).
func builtinReject(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var next starlark.Value
	var cmds, prefixes starlark.Value = starlark.None, starlark.None
	message := kinds.RejectDefaultMessage
	var label string
	if err := unpack(fn.Name(), args, kwargs,
		"next", &next, "commands?", &cmds, "key_prefixes?", &prefixes, "message?", &message, "label?", &label); err != nil {
		return nil, err
	}
	r := &keywayv1.Reject{Message: message}
	var err error
	if r.Next, err = c.required("next", next); err != nil {
		return nil, err
	}
	if r.Commands, err = c.commandNames("commands", cmds); err != nil {
		return nil, err
	}
	if r.KeyPrefixes, err = c.prefixes("key_prefixes", prefixes); err != nil {
		return nil, err
	}
	if err := kinds.Reject(len(r.Commands), len(r.KeyPrefixes)); err != nil {
		c.errorf("%v", err)
	}
	if err := kinds.RejectMessage(message); err != nil {
		c.errorf("%v", err)
	}
	return c.engine("reject", label, &keywayv1.Engine{Kind: &keywayv1.Engine_Reject{Reject: r}}), nil
}
