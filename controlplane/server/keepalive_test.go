package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"keyway.dev/controlplane/server"
	"keyway.dev/controlplane/xds/xdstest"
	"keyway.dev/policy/snapshot"
)

// TestKeepaliveEndsHalfOpenStream: a proxy whose connection went half-open
// (the relay between them stops forwarding without closing) is noticed by
// the server's own keepalive pings, and shown disconnected, although the
// proxy itself never pings.
func TestKeepaliveEndsHalfOpenStream(t *testing.T) {
	ka := keepalive.ServerParameters{Time: time.Second, Timeout: time.Second}
	srv, err := server.New(server.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Keepalive: ka})
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

	relay := xdstest.NewRelay(t, srv.Addr().String())
	cc, err := grpc.NewClient(relay.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	sctx, scancel := context.WithCancel(context.Background())
	defer scancel()
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(sctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&discovery.DiscoveryRequest{Node: &core.Node{Id: "proxy-h", Cluster: "keyway"}, TypeUrl: snapshot.DomainType}); err != nil {
		t.Fatal(err)
	}
	connected := func(want bool) func() error {
		return func() error {
			for _, n := range srv.XDS().Tracker().Nodes() {
				if n.GetId() == "proxy-h" && n.GetConnected() == want {
					return nil
				}
			}
			return fmt.Errorf("proxy-h not connected=%v: %v", want, srv.XDS().Tracker().Nodes())
		}
	}
	poll(t, "node connected", connected(true))
	if n := relay.Freeze(); n != 1 {
		t.Fatalf("froze %d connections, want 1", n)
	}
	frozen := time.Now()
	// Time + Timeout is 2s; poll's bound only keeps a broken build from
	// hanging the test.
	poll(t, "node disconnected", connected(false))
	t.Logf("server noticed the half-open stream after %v (keepalive %v + %v)", time.Since(frozen).Round(10*time.Millisecond), ka.Time, ka.Timeout)
}
