package split

import (
	"errors"
	"fmt"

	"keyway.dev/dataplane/engine"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Build compiles a Split. Each child's range is its cumulative share of
// Buckets, in the order written, so a session's child depends only on
// the weights, identically on every proxy.
func Build(b *engine.Builder, cfg *keywayv1.Split) (engine.Engine, error) {
	if len(cfg.GetChildren()) == 0 {
		return nil, errors.New("children: give at least one (weight, engine)")
	}
	s := &Split{byKey: cfg.GetBy() == keywayv1.Split_BY_KEY, salt: fnv([]byte(b.Path()))}
	var total uint64
	for i, wc := range cfg.GetChildren() {
		if wc.GetWeight() == 0 {
			return nil, fmt.Errorf("children[%d]: weight must be > 0", i)
		}
		child, err := b.Child(fmt.Sprintf("children[%d]", i), wc.GetEngine())
		if err != nil {
			return nil, err
		}
		s.children = append(s.children, child)
		s.weights = append(s.weights, wc.GetWeight())
		total += uint64(wc.GetWeight())
	}
	var cum uint64
	for i, w := range s.weights {
		cum += uint64(w)
		bound := uint32(cum * Buckets / total)
		if lo := lower(s.bounds); bound == lo {
			return nil, fmt.Errorf("children[%d]: weight %d of %d is below the split's resolution of 1/%d", i, w, total, Buckets)
		}
		s.bounds = append(s.bounds, bound)
	}
	return s, nil
}

func lower(bounds []uint32) uint32 {
	if len(bounds) == 0 {
		return 0
	}
	return bounds[len(bounds)-1]
}
