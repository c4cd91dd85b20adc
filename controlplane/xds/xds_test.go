package xds_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"keyway.dev/controlplane/xds"
	"keyway.dev/policy/snapshot"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

var types = []string{snapshot.DomainType, snapshot.FlagType, snapshot.ProxyConfigType}

func version(n uint64, domains ...string) *keywayv1.PolicyVersion {
	p := &keywayv1.Policy{Upstreams: []*keywayv1.Upstream{{
		Name: "main",
		Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:6379"}},
	}}}
	for _, d := range domains {
		p.Domains = append(p.Domains, &keywayv1.DomainPolicy{
			Name: d,
			Root: &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "main"}}},
		})
	}
	return &keywayv1.PolicyVersion{Version: n, Rendered: p}
}

// sink records what the tracker persists.
type sink struct {
	mu    sync.Mutex
	nodes map[string]*keywayv1.Node
}

func (s *sink) RecordStatus(n *keywayv1.Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nodes[n.GetId()] = n
}

func (s *sink) ForgetStatus(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.nodes, id)
}

func (s *sink) get(id string) *keywayv1.Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nodes[id]
}

// serve starts an ADS server on a loopback port.
func serve(t *testing.T) (*xds.Server, *sink, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sk := &sink{nodes: map[string]*keywayv1.Node{}}
	srv := xds.New(ctx, xds.Options{Sink: sk})
	gs := grpc.NewServer()
	srv.Register(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = gs.Serve(lis)
	}()
	t.Cleanup(func() {
		cancel()
		gs.Stop()
		<-done
	})
	return srv, sk, lis.Addr().String()
}

// client is a raw ADS stream, as a proxy drives it.
type client struct {
	t      *testing.T
	stream discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	node   *core.Node
	resp   chan *discovery.DiscoveryResponse
}

func dial(t *testing.T, addr, nodeID string) *client {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, stream: stream, node: &core.Node{Id: nodeID, Cluster: "keyway"}, resp: make(chan *discovery.DiscoveryResponse, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			r, err := stream.Recv()
			if err != nil {
				return
			}
			c.resp <- r
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		cc.Close()
	})
	return c
}

func (c *client) send(req *discovery.DiscoveryRequest) {
	c.t.Helper()
	req.Node = c.node
	if err := c.stream.Send(req); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *client) subscribe(versions map[string]string) {
	for _, typ := range types {
		c.send(&discovery.DiscoveryRequest{TypeUrl: typ, VersionInfo: versions[typ]})
	}
}

func (c *client) ack(r *discovery.DiscoveryResponse) {
	c.send(&discovery.DiscoveryRequest{TypeUrl: r.GetTypeUrl(), VersionInfo: r.GetVersionInfo(), ResponseNonce: r.GetNonce()})
}

func (c *client) nack(r *discovery.DiscoveryResponse, applied, msg string) {
	c.send(&discovery.DiscoveryRequest{TypeUrl: r.GetTypeUrl(), VersionInfo: applied, ResponseNonce: r.GetNonce(), ErrorDetail: &status.Status{Code: 3, Message: msg}})
}

// next waits for n responses and returns them by type URL.
func (c *client) next(n int) map[string]*discovery.DiscoveryResponse {
	c.t.Helper()
	out := map[string]*discovery.DiscoveryResponse{}
	for range n {
		select {
		case r := <-c.resp:
			out[r.GetTypeUrl()] = r
		case <-time.After(10 * time.Second):
			c.t.Fatalf("got %d of %d responses", len(out), n)
		}
	}
	return out
}

// quiet asserts no response arrives within a short window.
func (c *client) quiet() {
	c.t.Helper()
	select {
	case r := <-c.resp:
		c.t.Fatalf("unexpected response %s %s", r.GetTypeUrl(), r.GetVersionInfo())
	case <-time.After(300 * time.Millisecond):
	}
}

func domainNames(t *testing.T, r *discovery.DiscoveryResponse) []string {
	t.Helper()
	var names []string
	for _, a := range r.GetResources() {
		d := &keywayv1.Domain{}
		if err := a.UnmarshalTo(d); err != nil {
			t.Fatalf("decode domain: %v", err)
		}
		if d.GetStable().GetVersion() == "" || len(d.GetStable().GetUpstreams()) != 1 {
			t.Fatalf("domain %s lacks its tree: %v", d.GetName(), d)
		}
		names = append(names, d.GetName())
	}
	return names
}

func TestADSAckNackAndParking(t *testing.T) {
	srv, sk, addr := serve(t)
	ctx := context.Background()
	if err := srv.Publisher().SetActive(ctx, version(1, "web")); err != nil {
		t.Fatal(err)
	}
	c := dial(t, addr, "proxy-a")
	c.subscribe(nil)
	first := c.next(3)
	dom := first[snapshot.DomainType]
	if got := domainNames(t, dom); len(got) != 1 || got[0] != "web" {
		t.Fatalf("domains = %v, want [web]", got)
	}
	// The Domains' version carries the ProxyConfig's hash after its own.
	pc := first[snapshot.ProxyConfigType].GetVersionInfo()
	if !strings.HasPrefix(dom.GetVersionInfo(), "v1-") || len(dom.GetVersionInfo()) != len("v1-")+16 || !strings.HasSuffix(dom.GetVersionInfo(), pc[len("v1-"):]) {
		t.Fatalf("domain version %q, want v1-<8 hex><the 8 hex of ProxyConfig %s>", dom.GetVersionInfo(), pc)
	}
	if v := first[snapshot.FlagType].GetVersionInfo(); !strings.HasPrefix(v, "f-") {
		t.Fatalf("flag version %q, want f-<hash>", v)
	}
	for _, r := range first {
		c.ack(r)
	}

	// A new version: the proxy refuses its domains and accepts the config.
	if err := srv.Publisher().SetActive(ctx, version(2, "web", "api")); err != nil {
		t.Fatal(err)
	}
	second := c.next(2)
	if _, ok := second[snapshot.FlagType]; ok {
		t.Fatal("unchanged flags were resent")
	}
	c.nack(second[snapshot.DomainType], dom.GetVersionInfo(), "route: unknown upstream")
	c.ack(second[snapshot.ProxyConfigType])
	// The refused version is sent exactly once: no resend loop.
	c.quiet()

	n := waitNode(t, srv, "proxy-a", func(n *keywayv1.Node) bool { return n.GetLastNack() != nil && n.GetApplied()["ProxyConfig"] != "" })
	tests := []struct {
		name, got, want string
	}{
		{"applied domain is still v1", n.GetApplied()["Domain"], dom.GetVersionInfo()},
		{"applied proxy config", n.GetApplied()["ProxyConfig"], second[snapshot.ProxyConfigType].GetVersionInfo()},
		{"policy version", n.GetPolicyVersion(), "v1"},
		{"nack type", n.GetLastNack().GetType(), "Domain"},
		{"nack version", n.GetLastNack().GetVersion(), second[snapshot.DomainType].GetVersionInfo()},
		{"nack error", n.GetLastNack().GetError(), "route: unknown upstream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
	if !n.GetConnected() || n.GetPeer() == "" {
		t.Fatalf("node not connected or without peer: %v", n)
	}
	if p := sk.get("proxy-a"); p.GetLastNack().GetError() != "route: unknown upstream" {
		t.Fatalf("persisted status lacks the nack: %v", p)
	}

	// The next push is delivered despite the parked NACK.
	if err := srv.Publisher().SetActive(ctx, version(3, "web")); err != nil {
		t.Fatal(err)
	}
	third := c.next(2)
	if v := third[snapshot.DomainType].GetVersionInfo(); !strings.HasPrefix(v, "v3-") {
		t.Fatalf("after NACK the next domain version is %q, want v3-…", v)
	}
	c.ack(third[snapshot.DomainType])
	waitNode(t, srv, "proxy-a", func(n *keywayv1.Node) bool { return n.GetPolicyVersion() == "v3" })
}

func TestReconnectGetsNothingResent(t *testing.T) {
	srv, _, addr := serve(t)
	if err := srv.Publisher().SetActive(context.Background(), version(4, "web")); err != nil {
		t.Fatal(err)
	}
	a := dial(t, addr, "proxy-b")
	a.subscribe(nil)
	got := a.next(3)
	versions := map[string]string{}
	for typ, r := range got {
		versions[typ] = r.GetVersionInfo()
	}

	// A second server, as after a restart or on another replica, given the
	// same version, derives the same version strings.
	srv2, _, addr2 := serve(t)
	if err := srv2.Publisher().SetActive(context.Background(), version(4, "web")); err != nil {
		t.Fatal(err)
	}
	b := dial(t, addr2, "proxy-b")
	b.subscribe(versions)
	b.quiet()
	n := waitNode(t, srv2, "proxy-b", func(n *keywayv1.Node) bool { return n.GetPolicyVersion() == "v4" })
	if n.GetApplied()["Flag"] != versions[snapshot.FlagType] {
		t.Fatalf("reconnected node applied %v, want %v", n.GetApplied(), versions)
	}
}

func TestDisconnectRecorded(t *testing.T) {
	srv, sk, addr := serve(t)
	if err := srv.Publisher().SetActive(context.Background(), version(1, "web")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&discovery.DiscoveryRequest{Node: &core.Node{Id: "proxy-c"}, TypeUrl: snapshot.DomainType}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	waitNode(t, srv, "proxy-c", func(n *keywayv1.Node) bool { return n.GetConnected() })
	cancel()
	waitNode(t, srv, "proxy-c", func(n *keywayv1.Node) bool { return !n.GetConnected() })
	if sk.get("proxy-c").GetConnected() {
		t.Fatal("persisted status still says connected")
	}
}

// waitNode polls the tracker until cond holds for node id.
func waitNode(t *testing.T, srv *xds.Server, id string, cond func(*keywayv1.Node) bool) *keywayv1.Node {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, n := range srv.Tracker().Nodes() {
			if n.GetId() == id && cond(n) {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s never reached the expected state: %v", id, srv.Tracker().Nodes())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
