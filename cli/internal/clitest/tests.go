package clitest

import (
	"context"
	"strings"

	keywayv1 "keyway.dev/proto/keyway/v1"
	"keyway.dev/proto/testrun"
)

// RunTests stands in for the engine tree: a case whose name starts with
// "fail" fails, every other passes.
func (Renderer) RunTests(_ context.Context, p *keywayv1.Policy) []testrun.Result {
	var out []testrun.Result
	for _, c := range p.GetTests() {
		r := testrun.Result{Name: c.GetName(), Source: c.GetSource(), Domain: c.GetDomain(), Command: c.GetCommand(), Pass: true}
		if strings.HasPrefix(c.GetName(), "fail") {
			r.Pass, r.Reason = false, "reached upstream main, want cache\n  path: route"
		}
		out = append(out, r)
	}
	return out
}
