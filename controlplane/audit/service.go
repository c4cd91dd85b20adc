package audit

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Service implements keywayv1.AuditServiceServer on a Log.
type Service struct {
	keywayv1.UnimplementedAuditServiceServer
	log *Log
}

// NewService returns the audit service of log.
func NewService(log *Log) *Service { return &Service{log: log} }

// Register adds the service to gs.
func (s *Service) Register(gs grpc.ServiceRegistrar) { keywayv1.RegisterAuditServiceServer(gs, s) }

// ListAuditEvents returns the newest events first.
func (s *Service) ListAuditEvents(ctx context.Context, req *keywayv1.ListAuditEventsRequest) (*keywayv1.ListAuditEventsResponse, error) {
	evs, err := s.log.List(ctx, int(req.GetLimit()))
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	return &keywayv1.ListAuditEventsResponse{Events: evs}, nil
}
