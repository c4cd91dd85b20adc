package admin

import (
	"context"
	"errors"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"keyway.dev/controlplane/store"
)

// toStatus maps store errors to gRPC codes the CLI can act on.
func toStatus(err error) error {
	var conflict *store.ConflictError
	switch {
	case errors.As(err, &conflict):
		return status.Error(codes.Aborted, err.Error())
	case errors.Is(err, store.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, store.ErrUnavailable):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	default:
		return status.Error(codes.Internal, err.Error())
	}
}

func uintString(v uint64) string { return strconv.FormatUint(v, 10) }
