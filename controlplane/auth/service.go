package auth

import (
	"context"
	"errors"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"keyway.dev/controlplane/store"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// AuditFunc records a token change; server wiring adapts the audit log
// to it (audit reads Identity, so auth cannot import audit).
type AuditFunc func(ctx context.Context, action, target, detail string)

// Audit actions of the token service.
const (
	ActionTokenCreate = "token.create"
	ActionTokenRevoke = "token.revoke"
)

// Service implements keywayv1.TokenServiceServer on Tokens.
type Service struct {
	keywayv1.UnimplementedTokenServiceServer
	tokens *Tokens
	audit  AuditFunc
}

var _ keywayv1.TokenServiceServer = (*Service)(nil)

// NewService returns the token service; audit may be nil.
func NewService(t *Tokens, audit AuditFunc) *Service {
	if audit == nil {
		audit = func(context.Context, string, string, string) {}
	}
	return &Service{tokens: t, audit: audit}
}

// Register adds the service to gs.
func (s *Service) Register(gs grpc.ServiceRegistrar) { keywayv1.RegisterTokenServiceServer(gs, s) }

// CreateToken makes a token; its creator is the caller's identity.
func (s *Service) CreateToken(ctx context.Context, req *keywayv1.CreateTokenRequest) (*keywayv1.CreateTokenResponse, error) {
	role, err := ParseRole(req.GetRole())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	creator := Identity(ctx)
	if creator == "" {
		creator = "anonymous"
	}
	info, secret, err := s.tokens.Create(ctx, req.GetName(), role, creator)
	if err != nil {
		return nil, toStatus(err)
	}
	s.audit(ctx, ActionTokenCreate, "token:"+info.GetName(), "created token "+info.GetName()+" with role "+info.GetRole())
	return &keywayv1.CreateTokenResponse{Token: info, Secret: secret}, nil
}

// ListTokens lists tokens without secrets.
func (s *Service) ListTokens(ctx context.Context, _ *keywayv1.ListTokensRequest) (*keywayv1.ListTokensResponse, error) {
	list, err := s.tokens.List(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &keywayv1.ListTokensResponse{Tokens: list}, nil
}

// RevokeToken deletes a token.
func (s *Service) RevokeToken(ctx context.Context, req *keywayv1.RevokeTokenRequest) (*keywayv1.RevokeTokenResponse, error) {
	info, err := s.tokens.Revoke(ctx, req.GetName())
	if err != nil {
		return nil, toStatus(err)
	}
	s.audit(ctx, ActionTokenRevoke, "token:"+info.GetName(), "revoked token "+info.GetName()+" with role "+info.GetRole())
	return &keywayv1.RevokeTokenResponse{Token: info}, nil
}

func toStatus(err error) error {
	switch {
	case errors.Is(err, ErrTokenExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, ErrTokenNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, ErrLastAdmin):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, store.ErrUnavailable):
		return status.Error(codes.Unavailable, err.Error())
	}
	return status.Error(codes.InvalidArgument, err.Error())
}
