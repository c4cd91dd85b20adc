package auth

import "context"

type identityKey struct{}

// caller is who made a call, as the interceptors established it.
type caller struct {
	id   string
	role Role
}

// Identity is the authenticated caller of the call ctx belongs to:
// "token:<name>" or "cert:<common name>", or "" when the call was not
// authenticated (authentication off, or a public method). The audit log
// records it.
func Identity(ctx context.Context) string {
	c, _ := ctx.Value(identityKey{}).(caller)
	return c.id
}

// RoleOf is the authenticated caller's role, None when there is none.
func RoleOf(ctx context.Context) Role {
	c, _ := ctx.Value(identityKey{}).(caller)
	return c.role
}

// WithIdentity returns ctx carrying an authenticated caller; the
// interceptors use it, and tests of services that read Identity may too.
func WithIdentity(ctx context.Context, id string, role Role) context.Context {
	return context.WithValue(ctx, identityKey{}, caller{id: id, role: role})
}
