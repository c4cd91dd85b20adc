package xds

import (
	"context"
	"fmt"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/genproto/googleapis/rpc/status"

	"keyway.dev/policy/snapshot"
	keywayv1 "keyway.dev/proto/keyway/v1"
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

// countSink counts what the tracker hands to the sink.
type countSink struct{ records, forgets int }

func (c *countSink) RecordStatus(*keywayv1.Node) { c.records++ }
func (c *countSink) ForgetStatus(string)         { c.forgets++ }

func TestTrackerRecordsChangesOnly(t *testing.T) {
	const typ = snapshot.DomainType
	sk := &countSink{}
	tr := NewTracker(sk)
	now := time.Unix(1000, 0)
	tr.now = func() time.Time { return now }
	tr.forgetAfter = time.Minute
	ctx := context.Background()
	node := &core.Node{Id: "p"}
	_ = tr.OnStreamOpen(ctx, 1, "")
	steps := []struct {
		name string
		req  *discovery.DiscoveryRequest
		sent string // version the server sent before req, "" for none
		want int    // records so far
	}{
		{"initial request: connected", &discovery.DiscoveryRequest{Node: node, TypeUrl: typ}, "", 1},
		{"ack of a new version", &discovery.DiscoveryRequest{TypeUrl: typ, VersionInfo: "v1-a", ResponseNonce: "1"}, "v1-a", 2},
		{"the same ack again", &discovery.DiscoveryRequest{TypeUrl: typ, VersionInfo: "v1-a", ResponseNonce: "1"}, "", 2},
		{"nack", &discovery.DiscoveryRequest{TypeUrl: typ, VersionInfo: "v1-a", ResponseNonce: "2", ErrorDetail: &status.Status{Message: "bad"}}, "v2-b", 3},
		{"ack of the version it already runs", &discovery.DiscoveryRequest{TypeUrl: typ, VersionInfo: "v1-a", ResponseNonce: "3"}, "v1-a", 3},
	}
	nonce := 0
	for _, s := range steps {
		if s.sent != "" {
			nonce++
			tr.OnStreamResponse(ctx, 1, &discovery.DiscoveryRequest{TypeUrl: typ}, &discovery.DiscoveryResponse{Nonce: fmt.Sprint(nonce), VersionInfo: s.sent})
		}
		if err := tr.OnStreamRequest(1, s.req); err != nil {
			t.Fatal(err)
		}
		tr.takeParked(s.req)
		if sk.records != s.want {
			t.Fatalf("%s: %d records, want %d", s.name, sk.records, s.want)
		}
	}

	tr.OnStreamClosed(1, node)
	if sk.records != 4 {
		t.Fatalf("disconnect: %d records, want 4", sk.records)
	}
	now = now.Add(59 * time.Second)
	if n := tr.Expire(); n != 0 || len(tr.Nodes()) != 1 {
		t.Fatalf("forgot %d nodes before ForgetAfter passed", n)
	}
	now = now.Add(2 * time.Second)
	if n := tr.Expire(); n != 1 || len(tr.Nodes()) != 0 || sk.forgets != 1 {
		t.Fatalf("after ForgetAfter: forgot %d, %d left, %d sink deletions; want 1, 0, 1", n, len(tr.Nodes()), sk.forgets)
	}
}
