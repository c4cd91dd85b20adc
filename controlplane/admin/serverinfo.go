package admin

import (
	"context"

	"google.golang.org/grpc"

	"keyway.dev/proto/buildinfo"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// ServerInfo implements keywayv1.ServerServiceServer: the build of the
// keyway-control answering, for `keyway version`.
type ServerInfo struct {
	keywayv1.UnimplementedServerServiceServer

	build   buildinfo.Info
	replica string
}

// NewServerInfo returns the service reporting build and replica.
func NewServerInfo(build buildinfo.Info, replica string) *ServerInfo {
	return &ServerInfo{build: build, replica: replica}
}

// Register adds the service to gs.
func (s *ServerInfo) Register(gs grpc.ServiceRegistrar) { keywayv1.RegisterServerServiceServer(gs, s) }

// GetServerInfo answers the build this replica runs.
func (s *ServerInfo) GetServerInfo(context.Context, *keywayv1.GetServerInfoRequest) (*keywayv1.GetServerInfoResponse, error) {
	return &keywayv1.GetServerInfoResponse{
		Version: s.build.Version,
		Commit:  s.build.Commit,
		Date:    s.build.Date,
		Go:      s.build.Go,
		Replica: s.replica,
	}, nil
}
