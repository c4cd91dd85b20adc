package auth_test

import (
	"context"
	"io"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"keyway.dev/controlplane/auth"
	"keyway.dev/proto/certtest"
)

// fakeADS answers each request with a response whose version is the
// node id the server saw, so tests see what reached the handler.
type fakeADS struct {
	discovery.UnimplementedAggregatedDiscoveryServiceServer
}

func (fakeADS) StreamAggregatedResources(s grpc.BidiStreamingServer[discovery.DiscoveryRequest, discovery.DiscoveryResponse]) error {
	node := ""
	for {
		req, err := s.Recv()
		if err != nil {
			return err
		}
		if req.GetNode() != nil {
			node = req.GetNode().GetId()
		}
		if err := s.Send(&discovery.DiscoveryResponse{VersionInfo: node + "/" + auth.Identity(s.Context())}); err != nil {
			return err
		}
	}
}

func registerFakeADS(gs *grpc.Server) {
	discovery.RegisterAggregatedDiscoveryServiceServer(gs, fakeADS{})
}

func TestNodeStreamsNeedTheirCertificate(t *testing.T) {
	p := startPlane(t, auth.Auto, nil)
	proxyA := p.ca.Client(t, "proxy-a")
	bySAN := p.ca.Client(t, "host-7", "proxy-c")
	otherCA := certtest.NewCA(t, "someone-else")
	forged := otherCA.Client(t, "proxy-b")
	tests := []struct {
		name string
		leaf *certtest.Leaf
		node string
		code codes.Code
		want string
	}{
		{"own node by CN", &proxyA, "proxy-a", codes.OK, "proxy-a/cert:proxy-a"},
		{"own node by DNS SAN", &bySAN, "proxy-c", codes.OK, "proxy-c/cert:host-7"},
		{"another node", &proxyA, "proxy-b", codes.PermissionDenied, ""},
		{"no certificate", nil, "proxy-a", codes.Unauthenticated, ""},
		{"no node named", &proxyA, "", codes.InvalidArgument, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ads := discovery.NewAggregatedDiscoveryServiceClient(p.dial(t, tt.leaf))
			got, err := adsRoundTrip(ads, tt.node)
			if status.Code(err) != tt.code {
				t.Fatalf("stream: %v, want %v", err, tt.code)
			}
			if got != tt.want {
				t.Fatalf("handler saw %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("untrusted CA fails the handshake", func(t *testing.T) {
		ads := discovery.NewAggregatedDiscoveryServiceClient(p.dial(t, &forged))
		if _, err := adsRoundTrip(ads, "proxy-b"); err == nil {
			t.Fatal("a certificate from another CA was accepted")
		}
	})
	t.Run("switching node later ends the stream", func(t *testing.T) {
		ads := discovery.NewAggregatedDiscoveryServiceClient(p.dial(t, &proxyA))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s, err := ads.StreamAggregatedResources(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Send(&discovery.DiscoveryRequest{Node: &core.Node{Id: "proxy-a"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
		if err := s.Send(&discovery.DiscoveryRequest{Node: &core.Node{Id: "proxy-b"}}); err != nil {
			t.Fatal(err)
		}
		if resp, err := s.Recv(); err == nil {
			t.Fatalf("the stream answered %q after switching node", resp.GetVersionInfo())
		}
	})
}

// adsRoundTrip sends one request naming node and returns the version of
// the answer.
func adsRoundTrip(ads discovery.AggregatedDiscoveryServiceClient, node string) (string, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := ads.StreamAggregatedResources(ctx)
	if err != nil {
		return "", err
	}
	req := &discovery.DiscoveryRequest{TypeUrl: "x"}
	if node != "" {
		req.Node = &core.Node{Id: node}
	}
	// A server that refuses the stream at once may end it before Send:
	// Send then says only io.EOF, and Recv carries the real status.
	if err := s.Send(req); err != nil && err != io.EOF {
		return "", err
	}
	resp, err := s.Recv()
	if err != nil {
		return "", err
	}
	return resp.GetVersionInfo(), nil
}
