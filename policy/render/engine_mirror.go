package render

import (
	"go.starlark.net/starlark"

	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinMirror serves from primary and copies a sample to shadow:
// mirror(primary, shadow, sample=1.0, queue=1024, compare=False,
// writes_only=False, label=None).
func builtinMirror(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var primary, shadow starlark.Value
	var sampleV starlark.Value = starlark.None
	queue := kinds.MirrorDefaultQueue
	m := &keywayv1.Mirror{}
	var label string
	if err := unpack(fn.Name(), args, kwargs,
		"primary", &primary, "shadow", &shadow, "sample?", &sampleV, "queue?", &queue,
		"compare?", &m.Compare, "writes_only?", &m.WritesOnly, "label?", &label); err != nil {
		return nil, err
	}
	var err error
	if m.Primary, err = c.required("primary", primary); err != nil {
		return nil, err
	}
	if m.Shadow, err = c.required("shadow", shadow); err != nil {
		return nil, err
	}
	if m.Sample, err = c.number("sample", sampleV, kinds.MirrorDefaultSample); err != nil {
		return nil, err
	}
	if err := kinds.Share("sample", m.Sample); err != nil {
		c.errorf("%v", err)
	}
	m.Queue = c.count("queue", queue, 1)
	return c.engine("mirror", label, &keywayv1.Engine{Kind: &keywayv1.Engine_Mirror{Mirror: m}}), nil
}
