package local

import (
	"context"

	"keyway.dev/dataplane/policytest"
	keywayv1 "keyway.dev/proto/keyway/v1"
	"keyway.dev/proto/testrun"
)

// RunTests runs p's test cases through the proxy's real engine tree on
// recording upstreams, as `keyway policy test` does.
func (Renderer) RunTests(ctx context.Context, p *keywayv1.Policy) []testrun.Result {
	var out []testrun.Result
	for _, r := range policytest.Run(ctx, p) {
		out = append(out, testrun.Result(r))
	}
	return out
}
