package flags

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"keyway.dev/controlplane/audit"
	"keyway.dev/controlplane/store"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Domains tells the service which workload domains the active policy
// has, so a typo in a domain name is refused instead of silently
// switching nothing. A nil slice means there is no active policy yet:
// every domain is accepted. It reads the store, not a replica's cached
// view, so a flag set right after a push sees the pushed domains.
type Domains func(ctx context.Context) ([]string, error)

// Service implements keywayv1.FlagServiceServer.
type Service struct {
	keywayv1.UnimplementedFlagServiceServer

	store   *Store
	audit   audit.Recorder
	domains Domains
}

// NewService returns the flag service. domains may be nil.
func NewService(st *Store, rec audit.Recorder, domains Domains) *Service {
	return &Service{store: st, audit: rec, domains: domains}
}

// Register adds the service to gs.
func (s *Service) Register(gs grpc.ServiceRegistrar) { keywayv1.RegisterFlagServiceServer(gs, s) }

// SetFlag creates or changes a flag and records it.
func (s *Service) SetFlag(ctx context.Context, req *keywayv1.SetFlagRequest) (*keywayv1.SetFlagResponse, error) {
	if err := Validate(req.GetDomain(), req.GetFlag(), req.GetPercent()); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if err := s.checkDomain(ctx, req.GetDomain()); err != nil {
		return nil, err
	}
	rec, prev, err := s.store.Set(ctx, req.GetDomain(), req.GetFlag(), req.GetPercent(), req.GetAuthor())
	if err != nil {
		return nil, toStatus(err)
	}
	detail := fmt.Sprintf("set to %s (new flag)", Describe(req.GetPercent()))
	if prev != nil {
		detail = fmt.Sprintf("set to %s (was %s)", Describe(req.GetPercent()), Describe(*prev))
	}
	s.record(ctx, audit.Event{Who: req.GetAuthor(), Action: audit.FlagSet, Target: rec.GetFlag().GetName(), Detail: detail})
	return &keywayv1.SetFlagResponse{Flag: rec, Previous: prev}, nil
}

// ListFlags returns the flags, of one domain when asked.
func (s *Service) ListFlags(ctx context.Context, req *keywayv1.ListFlagsRequest) (*keywayv1.ListFlagsResponse, error) {
	recs, err := s.store.List(ctx, req.GetDomain())
	if err != nil {
		return nil, toStatus(err)
	}
	return &keywayv1.ListFlagsResponse{Flags: recs}, nil
}

// DeleteFlag removes a flag and records it.
func (s *Service) DeleteFlag(ctx context.Context, req *keywayv1.DeleteFlagRequest) (*keywayv1.DeleteFlagResponse, error) {
	if err := Validate(req.GetDomain(), req.GetFlag(), 0); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	rec, err := s.store.Delete(ctx, req.GetDomain(), req.GetFlag())
	if err != nil {
		return nil, toStatus(err)
	}
	s.record(ctx, audit.Event{Who: req.GetAuthor(), Action: audit.FlagDelete, Target: rec.GetFlag().GetName(),
		Detail: fmt.Sprintf("deleted (was %s)", Describe(rec.GetFlag().GetPercent()))})
	return &keywayv1.DeleteFlagResponse{Flag: rec}, nil
}

// Describe words a percentage as an operator reads it: "on", "off" or
// "30%".
func Describe(percent uint32) string {
	switch percent {
	case 0:
		return "off"
	case 100:
		return "on"
	}
	return fmt.Sprintf("%d%%", percent)
}

func (s *Service) checkDomain(ctx context.Context, domain string) error {
	if s.domains == nil {
		return nil
	}
	known, err := s.domains(ctx)
	if err != nil {
		return status.Errorf(codes.Unavailable, "read the active policy's domains: %v", err)
	}
	if known == nil {
		return nil
	}
	for _, d := range known {
		if d == domain {
			return nil
		}
	}
	return status.Errorf(codes.NotFound, "the active policy has no domain %q (domains: %s)", domain, strings.Join(known, ", "))
}

// record writes an audit event; the change is already made, so a failure
// to record is not the caller's error.
func (s *Service) record(ctx context.Context, e audit.Event) {
	if s.audit != nil {
		_ = s.audit.Record(ctx, e)
	}
}

func toStatus(err error) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, store.ErrUnavailable):
		return status.Error(codes.Unavailable, err.Error())
	default:
		return status.Error(codes.Internal, err.Error())
	}
}
