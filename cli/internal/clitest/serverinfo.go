package clitest

import (
	"context"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// ServerBuild is what the fake control plane answers GetServerInfo with.
var ServerBuild = &keywayv1.GetServerInfoResponse{
	Version: "v9.9.9-server", Commit: "fedcba9876543210", Date: "2026-02-03T04:05:06Z", Go: "go1.26", Replica: "fake-0",
}

type serverInfo struct {
	keywayv1.UnimplementedServerServiceServer
}

func (serverInfo) GetServerInfo(context.Context, *keywayv1.GetServerInfoRequest) (*keywayv1.GetServerInfoResponse, error) {
	return ServerBuild, nil
}
