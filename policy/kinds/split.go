package kinds

import (
	"errors"
	"fmt"
)

// SplitBuckets is the resolution of a split: its children's weights are
// laid out as cumulative ranges over 0..SplitBuckets-1, so shares are
// exact to 0.01%.
const SplitBuckets = 10000

// SplitWeights checks a split's weights, in order: at least one, each
// positive, and each large enough to own at least one bucket (a child
// below the resolution would never be chosen). It returns every problem.
func SplitWeights(weights []int64) []error {
	if len(weights) == 0 {
		return []error{errors.New("children: give at least one (weight, engine)")}
	}
	var errs []error
	var total int64
	for i, w := range weights {
		if w <= 0 {
			errs = append(errs, fmt.Errorf("children[%d]: weight must be > 0, got %d", i, w))
			continue
		}
		total += w
	}
	if errs != nil {
		return errs
	}
	var cum, lo int64
	for i, w := range weights {
		cum += w
		bound := cum * SplitBuckets / total
		if bound == lo {
			errs = append(errs, fmt.Errorf("children[%d]: weight %d of %d is below the split's resolution of 1/%d", i, w, total, SplitBuckets))
		}
		lo = bound
	}
	return errs
}
