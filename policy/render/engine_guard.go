package render

import (
	"go.starlark.net/starlark"

	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinGuard enforces command and key rules before next:
// guard(next, allow_commands=[], deny_commands=[], key_prefixes=[],
// channel_prefixes=[], allow_scripts=False, max_value_bytes=0, max_keys=0,
// max_pipeline=0, audit=False, label=None). Zero limits are off.
func builtinGuard(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var next starlark.Value
	var allow, deny, prefixes, channels starlark.Value = starlark.None, starlark.None, starlark.None, starlark.None
	var maxValue, maxKeys, maxPipeline int
	g := &keywayv1.Guard{}
	var label string
	if err := unpack(fn.Name(), args, kwargs,
		"next", &next, "allow_commands?", &allow, "deny_commands?", &deny, "key_prefixes?", &prefixes,
		"channel_prefixes?", &channels, "allow_scripts?", &g.AllowScripts,
		"max_value_bytes?", &maxValue, "max_keys?", &maxKeys, "max_pipeline?", &maxPipeline,
		"audit?", &g.Audit, "label?", &label); err != nil {
		return nil, err
	}
	var err error
	if g.Next, err = c.required("next", next); err != nil {
		return nil, err
	}
	if g.AllowCommands, err = c.commandNames("allow_commands", allow); err != nil {
		return nil, err
	}
	if g.DenyCommands, err = c.commandNames("deny_commands", deny); err != nil {
		return nil, err
	}
	if err := kinds.GuardCommands(g.AllowCommands, g.DenyCommands); err != nil {
		c.errorf("%v", err)
	}
	if g.KeyPrefixes, err = c.prefixes("key_prefixes", prefixes); err != nil {
		return nil, err
	}
	if g.ChannelPrefixes, err = c.prefixes("channel_prefixes", channels); err != nil {
		return nil, err
	}
	if err := kinds.GuardScripts(g.AllowScripts, len(g.KeyPrefixes)); err != nil {
		c.errorf("%v", err)
	}
	if maxValue < 0 {
		c.errorf("max_value_bytes must be at least 0, got %d", maxValue)
	} else {
		g.MaxValueBytes = uint64(maxValue)
	}
	g.MaxKeys = c.count("max_keys", maxKeys, 0)
	g.MaxPipeline = c.count("max_pipeline", maxPipeline, 0)
	return c.engine("guard", label, &keywayv1.Engine{Kind: &keywayv1.Engine_Guard{Guard: g}}), nil
}
