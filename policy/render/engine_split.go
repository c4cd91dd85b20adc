package render

import (
	"fmt"
	"math"

	"go.starlark.net/starlark"

	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinSplit sends a weighted share of traffic to each child:
// split(children=[(weight, engine), ...] or {engine: weight, ...},
// by="connection", label=None).
func builtinSplit(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var children starlark.Value
	by := "connection"
	var label string
	if err := unpack(fn.Name(), args, kwargs, "children", &children, "by?", &by, "label?", &label); err != nil {
		return nil, err
	}
	pairs, err := c.weighted(children)
	if err != nil {
		return nil, err
	}
	s := &keywayv1.Split{By: oneOf(c, "by", by,
		[]string{"connection", "key"}, []keywayv1.Split_By{keywayv1.Split_BY_CONNECTION, keywayv1.Split_BY_KEY})}
	weights := make([]int64, 0, len(pairs))
	for i, p := range pairs {
		w, ok := p[0].(starlark.Int)
		if !ok {
			return nil, c.typeErr(fmt.Sprintf("children[%d] weight", i), "an int", p[0])
		}
		n, ok := w.Int64()
		if !ok {
			n = math.MaxInt64 // c.count below says it is too large
		}
		// The shared rules judge the sign and the resolution; c.count
		// the range of the message's field.
		weights = append(weights, min(n, math.MaxUint32))
		n = max(n, 0)
		e, err := c.required(fmt.Sprintf("children[%d]", i), p[1])
		if err != nil {
			return nil, err
		}
		s.Children = append(s.Children, &keywayv1.WeightedEngine{Weight: c.count(fmt.Sprintf("children[%d] weight", i), int(n), 0), Engine: e})
	}
	for _, err := range kinds.SplitWeights(weights) {
		c.errorf("%v", err)
	}
	return c.engine("split", label, &keywayv1.Engine{Kind: &keywayv1.Engine_Split{Split: s}}), nil
}

// weighted normalises both spellings of split's children to
// (weight, engine) pairs in the order written.
func (c *call) weighted(v starlark.Value) ([][2]starlark.Value, error) {
	switch v := v.(type) {
	case *starlark.Dict:
		out := make([][2]starlark.Value, 0, v.Len())
		for _, kv := range v.Items() {
			out = append(out, [2]starlark.Value{kv[1], kv[0]})
		}
		return out, nil
	case *starlark.List, starlark.Tuple:
		seq := v.(starlark.Indexable)
		out := make([][2]starlark.Value, 0, seq.Len())
		for i := range seq.Len() {
			t, ok := seq.Index(i).(starlark.Tuple)
			if !ok || len(t) != 2 {
				return nil, c.typeErr(fmt.Sprintf("children[%d]", i), "a (weight, engine) pair", seq.Index(i))
			}
			out = append(out, [2]starlark.Value{t[0], t[1]})
		}
		return out, nil
	}
	return nil, c.typeErr("children", "a list of (weight, engine) pairs or a dict {engine: weight}", v)
}
