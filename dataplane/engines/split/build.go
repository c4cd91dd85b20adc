package split

import (
	"fmt"

	"keyway.dev/dataplane/engine"
	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Build compiles a Split. Each child's range is its cumulative share of
// Buckets, in the order written, so a session's child depends only on
// the weights, identically on every proxy.
func Build(b *engine.Builder, cfg *keywayv1.Split) (engine.Engine, error) {
	weights := make([]int64, len(cfg.GetChildren()))
	for i, wc := range cfg.GetChildren() {
		weights[i] = int64(wc.GetWeight())
	}
	if errs := kinds.SplitWeights(weights); errs != nil {
		return nil, errs[0]
	}
	s := &Split{byKey: cfg.GetBy() == keywayv1.Split_BY_KEY, salt: fnv([]byte(b.Path()))}
	var total uint64
	for i, wc := range cfg.GetChildren() {
		child, err := b.Child(fmt.Sprintf("children[%d]", i), wc.GetEngine())
		if err != nil {
			return nil, err
		}
		s.children = append(s.children, child)
		s.weights = append(s.weights, wc.GetWeight())
		total += uint64(wc.GetWeight())
	}
	var cum uint64
	for _, w := range s.weights {
		cum += uint64(w)
		s.bounds = append(s.bounds, uint32(cum*Buckets/total))
	}
	return s, nil
}
