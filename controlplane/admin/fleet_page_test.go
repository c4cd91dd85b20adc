package admin

import (
	"context"
	"fmt"
	"strings"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"keyway.dev/controlplane/xds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

const (
	domainType = "type.googleapis.com/keyway.v1.Domain"
	configType = "type.googleapis.com/keyway.v1.ProxyConfig"
	// grpcDefaultMax is gRPC's default limit on a received message, which
	// an unpaged ListNodes exceeded at about 30,000 nodes.
	grpcDefaultMax = 4 << 20
)

// fleetOf fills a real tracker with n nodes the way their ADS streams
// would: every tenth one disconnected, every hundredth refusing v3, the
// rest split between v2 and v3. Ids, listeners and versions are as long
// as a real fleet's.
func fleetOf(t testing.TB, n int) *xds.Tracker {
	t.Helper()
	tr := xds.NewTracker(nil)
	md, err := structpb.NewStruct(map[string]any{"listeners": "10.12.34.56:6379,10.12.34.56:6380"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		id := int64(i + 1)
		if err := tr.OnStreamOpen(context.Background(), id, ""); err != nil {
			t.Fatal(err)
		}
		node := &core.Node{Id: fmt.Sprintf("keyway-proxy-7f9c6d5b8-%05d.payments.prod.svc.cluster.local", i), Metadata: md}
		version := "v3"
		if i%2 == 0 {
			version = "v2"
		}
		for _, typ := range []string{domainType, configType} {
			req := &discovery.DiscoveryRequest{Node: node, TypeUrl: typ, VersionInfo: version + "-0123abcd4567ef89"}
			if err := tr.OnStreamRequest(id, req); err != nil {
				t.Fatal(err)
			}
		}
		if i%100 == 1 {
			// Sent v4, which it refuses.
			tr.OnStreamResponse(context.Background(), id, &discovery.DiscoveryRequest{TypeUrl: domainType},
				&discovery.DiscoveryResponse{VersionInfo: "v4-89abcdef01234567", Nonce: "n1"})
			nack := &discovery.DiscoveryRequest{Node: node, TypeUrl: domainType, VersionInfo: version + "-0123abcd4567ef89", ResponseNonce: "n1",
				ErrorDetail: &status.Status{Message: "engine tree of domain payments: upstream " + strings.Repeat("x", 200) + " unknown"}}
			if err := tr.OnStreamRequest(id, nack); err != nil {
				t.Fatal(err)
			}
		}
		if i%10 == 9 {
			tr.OnStreamClosed(id, node)
		}
	}
	return tr
}

// TestListNodesPagesAt30k is the failure the pages fix: at 30,000 nodes one
// unpaged response is larger than gRPC accepts by default, while every
// page is far below it, and the pages together list each node once.
func TestListNodesPagesAt30k(t *testing.T) {
	const n = 30_000
	f := NewFleet(fleetOf(t, n), nil)
	ctx := context.Background()

	all, err := f.ListNodes(ctx, &keywayv1.ListNodesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if size := proto.Size(all); size <= grpcDefaultMax {
		t.Logf("unpaged response is %d bytes; the fixture is smaller than the fleet that failed", size)
	}

	seen := map[string]bool{}
	last := ""
	pages := 0
	req := &keywayv1.ListNodesRequest{PageSize: 1 << 20} // capped at MaxPageSize
	for {
		resp, err := f.ListNodes(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if size := proto.Size(resp); size >= grpcDefaultMax/4 {
			t.Fatalf("page %d is %d bytes, want well under gRPC's %d", pages, size, grpcDefaultMax)
		}
		if len(resp.GetNodes()) > MaxPageSize {
			t.Fatalf("page %d has %d nodes, more than MaxPageSize %d", pages, len(resp.GetNodes()), MaxPageSize)
		}
		if s := resp.GetSummary(); s.GetNodes() != n || s.GetConnected() != n*9/10 || s.GetNacked() != n/100 ||
			s.GetVersions()["v2"]+s.GetVersions()["v3"] != n*9/10 {
			t.Fatalf("page %d summary = %v", pages, s)
		}
		for _, node := range resp.GetNodes() {
			if node.GetId() <= last || seen[node.GetId()] {
				t.Fatalf("page %d: node %s out of order or listed twice", pages, node.GetId())
			}
			seen[node.GetId()], last = true, node.GetId()
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	if len(seen) != n || pages != n/MaxPageSize {
		t.Fatalf("pages listed %d nodes in %d pages, want %d in %d", len(seen), pages, n, n/MaxPageSize)
	}
	if size := proto.Size(all); size <= grpcDefaultMax {
		t.Fatalf("unpaged response is %d bytes: the test no longer shows the failure pages fix", size)
	}
}

func TestListNodesFilters(t *testing.T) {
	f := NewFleet(fleetOf(t, 200), nil).WithDomains(func(id string) []string {
		if strings.HasSuffix(id, "7.payments.prod.svc.cluster.local") {
			return []string{"payments", "search"}
		}
		return nil
	})
	tests := []struct {
		name string
		req  *keywayv1.ListNodesRequest
		want int
	}{
		{"none", &keywayv1.ListNodesRequest{}, 200},
		{"policy version", &keywayv1.ListNodesRequest{Version: "v2"}, 100},
		{"applied version", &keywayv1.ListNodesRequest{Version: "v3-0123abcd4567ef89"}, 100},
		{"unknown version", &keywayv1.ListNodesRequest{Version: "v9"}, 0},
		{"nacked", &keywayv1.ListNodesRequest{Nacked: true}, 2},
		{"disconnected", &keywayv1.ListNodesRequest{Disconnected: true}, 20},
		{"domain", &keywayv1.ListNodesRequest{Domain: "search"}, 20},
		{"domain and disconnected", &keywayv1.ListNodesRequest{Domain: "search", Disconnected: true}, 0},
		{"ids", &keywayv1.ListNodesRequest{Ids: []string{"keyway-proxy-7f9c6d5b8-00003.payments.prod.svc.cluster.local", "nobody"}}, 1},
		{"version and nacked", &keywayv1.ListNodesRequest{Version: "v3", Nacked: true}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := f.ListNodes(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.GetNodes()) != tc.want || resp.GetSummary().GetNodes() != int64(tc.want) {
				t.Fatalf("%d nodes (summary %d), want %d", len(resp.GetNodes()), resp.GetSummary().GetNodes(), tc.want)
			}
		})
	}
}

func TestListNodesRefusesBadPages(t *testing.T) {
	f := NewFleet(nodeList{{Id: "a"}}, nil)
	for _, req := range []*keywayv1.ListNodesRequest{
		{PageSize: -1},
		{PageSize: 10, PageToken: "not base64!"},
	} {
		_, err := f.ListNodes(context.Background(), req)
		if grpcstatus.Code(err) != codes.InvalidArgument {
			t.Errorf("ListNodes(%v) = %v, want InvalidArgument", req, err)
		}
	}
}
