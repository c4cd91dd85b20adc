package admin

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// diffBundle compares stored version from (0: the active one) with a
// bundle that is not stored, rendered here exactly as a push would be, so
// the author sees what pushing it would change.
func (p *Policy) diffBundle(ctx context.Context, from uint64, b *keywayv1.Bundle) (*keywayv1.DiffResponse, error) {
	if from == 0 {
		ptr, err := p.store.Pointers(ctx)
		if err != nil {
			return nil, toStatus(err)
		}
		if ptr.Active == 0 {
			return nil, status.Error(codes.FailedPrecondition, "no active version to compare the bundle with; name one, or push first")
		}
		from = ptr.Active
	}
	rec, err := p.store.Get(ctx, from)
	if err != nil {
		return nil, toStatus(err)
	}
	rendered, err := p.renderBundle(ctx, b)
	if err != nil {
		return nil, err
	}
	fromName, toName := versionLabel(rec), "local"
	return &keywayv1.DiffResponse{
		Sources:  diffSources(fromName, toName, rec.GetBundle(), b),
		Rendered: unifiedDiff(fromName+"/rendered", toName+"/rendered", policyText(rec.GetRendered()), policyText(rendered)),
		From:     from,
	}, nil
}
