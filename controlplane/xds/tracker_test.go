package xds

import (
	"context"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/genproto/googleapis/rpc/status"

	"keyway.dev/controlplane/snapshot"
)

func TestTrackerClassifies(t *testing.T) {
	const typ = snapshot.DomainType
	node := &core.Node{Id: "p"}
	nack := &status.Status{Message: "bad"}
	tests := []struct {
		name        string
		req         *discovery.DiscoveryRequest
		wantApplied string
		wantNack    string // rejected version, or ""
		wantParked  bool
	}{
		{name: "initial", req: &discovery.DiscoveryRequest{Node: node, TypeUrl: typ}},
		{name: "initial of a resuming proxy", req: &discovery.DiscoveryRequest{Node: node, TypeUrl: typ, VersionInfo: "v1-a"}, wantApplied: "v1-a"},
		{name: "ack", req: &discovery.DiscoveryRequest{Node: node, TypeUrl: typ, VersionInfo: "v2-b", ResponseNonce: "2"}, wantApplied: "v2-b"},
		{name: "nack", req: &discovery.DiscoveryRequest{Node: node, TypeUrl: typ, VersionInfo: "v1-a", ResponseNonce: "2", ErrorDetail: nack}, wantApplied: "v1-a", wantNack: "v2-b", wantParked: true},
		{name: "stale ack", req: &discovery.DiscoveryRequest{Node: node, TypeUrl: typ, VersionInfo: "v0-z", ResponseNonce: "1"}},
		{name: "stale nack", req: &discovery.DiscoveryRequest{Node: node, TypeUrl: typ, VersionInfo: "v0-z", ResponseNonce: "1", ErrorDetail: nack}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(nil)
			if err := tr.OnStreamOpen(context.Background(), 7, ""); err != nil {
				t.Fatal(err)
			}
			tr.OnStreamResponse(context.Background(), 7, &discovery.DiscoveryRequest{TypeUrl: typ}, &discovery.DiscoveryResponse{Nonce: "2", VersionInfo: "v2-b"})
			if err := tr.OnStreamRequest(7, tt.req); err != nil {
				t.Fatal(err)
			}
			n := tr.Nodes()[0]
			if got := n.GetApplied()["Domain"]; got != tt.wantApplied {
				t.Errorf("applied %q, want %q", got, tt.wantApplied)
			}
			if got := n.GetLastNack().GetVersion(); got != tt.wantNack {
				t.Errorf("nacked %q, want %q", got, tt.wantNack)
			}
			v, parked := tr.takeParked(tt.req)
			if parked != tt.wantParked || (parked && v != "v2-b") {
				t.Errorf("parked %v at %q, want %v", parked, v, tt.wantParked)
			}
		})
	}
	if err := NewTracker(nil).OnStreamRequest(1, &discovery.DiscoveryRequest{Node: node}); err == nil {
		t.Error("a request on an unopened stream was accepted")
	}
	tr := NewTracker(nil)
	_ = tr.OnStreamOpen(context.Background(), 1, "")
	if err := tr.OnStreamRequest(1, &discovery.DiscoveryRequest{TypeUrl: typ}); err == nil {
		t.Error("a node without id was accepted")
	}
}
