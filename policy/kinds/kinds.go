// Package kinds holds the rules of engine kinds' messages that both the
// renderer (keyway.dev/policy/render) and the proxy's builders
// (keyway.dev/dataplane/engines/<kind>) enforce, written once so their
// answers and their words cannot drift apart: a policy the renderer
// accepts builds, and a hand-made snapshot the renderer would refuse is
// refused by the proxy with the same sentence.
//
// Each rule takes the value in effect, after the caller applied the
// field's default (render from an omitted argument, a builder from an
// unset field), so a rule never has to guess whether zero was meant.
package kinds

import (
	"fmt"
	"math"
)

// Share checks that v, the argument or field arg, is a share in (0, 1].
// NaN is not.
func Share(arg string, v float64) error {
	if !(v > 0 && v <= 1) {
		return fmt.Errorf("%s must be in (0, 1], got %v", arg, v)
	}
	return nil
}

// finite reports whether v is a number a rate or a span may be.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
