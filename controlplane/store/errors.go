package store

import (
	"context"
	"errors"
	"fmt"
)

// ErrNotFound reports a version that does not exist.
var ErrNotFound = errors.New("not found")

// ErrUnavailable reports that etcd could not be reached; writes are refused
// rather than queued, so the caller knows nothing was stored.
var ErrUnavailable = errors.New("etcd unavailable")

// ConflictError is a push that lost the race on the head: another push
// landed after the one the caller based its push on. Nothing was written.
type ConflictError struct {
	// Head is the fleet's current head version.
	Head uint64
	// Parent is the version the push was based on.
	Parent uint64
}

func (e *ConflictError) Error() string {
	base := fmt.Sprintf("v%d", e.Parent)
	if e.Parent == 0 {
		base = "an empty fleet"
	}
	return fmt.Sprintf("conflict: the head is v%d, the push was based on %s; pull, re-check and push again", e.Head, base)
}

// unavailable wraps an etcd client error, unless the caller gave up first.
func unavailable(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, what, err)
}
