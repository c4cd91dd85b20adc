package admin

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	keywayv1 "keyway.dev/proto/keyway/v1"
	"keyway.dev/proto/testrun"
)

// TestRunner runs a rendered policy's test(...) cases and returns
// testrun.Failures when any failed. (*testrun.Runner).Run fits, through
// RunnerTests.
type TestRunner func(ctx context.Context, p *keywayv1.Policy) error

// RunnerTests adapts a testrun.Runner, which runs the cases in
// keyway-proxy: the control plane does not link the engines.
func RunnerTests(r *testrun.Runner) TestRunner {
	return func(ctx context.Context, p *keywayv1.Policy) error {
		_, err := r.Run(ctx, p)
		return err
	}
}

// WithTests makes Push run every bundle's test cases before storing it,
// so a push through the API cannot skip what `keyway policy push` runs.
func (p *Policy) WithTests(t TestRunner) *Policy {
	p.tests = t
	return p
}

// runTests refuses a bundle whose own test cases fail, with each failing
// case's file:line:col, unless the push asked to skip them.
func (p *Policy) runTests(ctx context.Context, req *keywayv1.PushRequest, rendered *keywayv1.Policy) error {
	if req.GetSkipTests() || len(rendered.GetTests()) == 0 {
		return nil
	}
	if p.tests == nil {
		return status.Error(codes.FailedPrecondition, "this control plane cannot run policy tests (it was built without a test runner); push with --skip-tests")
	}
	err := p.tests(ctx, rendered)
	var failed testrun.Failures
	switch {
	case err == nil:
		return nil
	case errors.As(err, &failed):
		return status.Errorf(codes.InvalidArgument, "%v\nnothing stored; fix the policy or its tests (push with --skip-tests only in an emergency: the skip is audited)", failed)
	case errors.Is(err, testrun.ErrNoRunner):
		return status.Error(codes.FailedPrecondition, err.Error())
	case ctx.Err() != nil:
		return status.FromContextError(ctx.Err()).Err()
	}
	return status.Errorf(codes.Internal, "run the policy's tests: %v", err)
}
