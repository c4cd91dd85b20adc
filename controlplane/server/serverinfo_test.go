package server_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"keyway.dev/controlplane/server"
	"keyway.dev/proto/buildinfo"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// The admin API answers the build of the replica it reaches, and its
// replica name, over a real gRPC connection.
func TestGetServerInfo(t *testing.T) {
	srv, err := server.New(server.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), ReplicaID: "replica-a"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	cc, err := grpc.NewClient(srv.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()

	got, err := keywayv1.NewServerServiceClient(cc).GetServerInfo(ctx, &keywayv1.GetServerInfoRequest{})
	if err != nil {
		t.Fatalf("GetServerInfo: %v", err)
	}
	want := buildinfo.Get()
	if got.GetVersion() != want.Version || got.GetCommit() != want.Commit || got.GetDate() != want.Date || got.GetGo() != want.Go {
		t.Errorf("GetServerInfo = %v, want the server's build %+v", got, want)
	}
	if got.GetVersion() == "" || got.GetGo() == "" {
		t.Errorf("GetServerInfo = %v: version and go must never be empty", got)
	}
	if got.GetReplica() != "replica-a" {
		t.Errorf("replica = %q, want replica-a", got.GetReplica())
	}
}
