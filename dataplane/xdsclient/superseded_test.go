package xdsclient

import (
	"net"
	"testing"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
)

// scripted is an ADS server that plays one stream step by step: the test
// sends responses and reads requests through it, so an order a real
// control plane produces only in a race can be produced at will.
type scripted struct {
	discovery.UnimplementedAggregatedDiscoveryServiceServer
	streams chan discovery.AggregatedDiscoveryService_StreamAggregatedResourcesServer
	done    chan struct{}
}

func (s *scripted) StreamAggregatedResources(st discovery.AggregatedDiscoveryService_StreamAggregatedResourcesServer) error {
	s.streams <- st
	<-s.done
	return nil
}

// TestSupersededHeldResponseIsReleased: Domains v2 are held for their
// ProxyConfig, but ProxyConfig v3 comes instead (v3 was pushed before
// the control plane sent ProxyConfig v2). A control plane sends a type
// nothing new until its last response is answered, so the client must
// answer Domains v2, without applying or refusing them, by naming the
// version in force; then Domains v3 come and pair with ProxyConfig v3.
// Before, both stayed held and the proxy never moved past v1.
func TestSupersededHeldResponseIsReleased(t *testing.T) {
	srv := &scripted{streams: make(chan discovery.AggregatedDiscoveryService_StreamAggregatedResourcesServer, 1), done: make(chan struct{})}
	gs := grpc.NewServer()
	discovery.RegisterAggregatedDiscoveryServiceServer(gs, srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(func() { close(srv.done); gs.Stop() })

	h := &pairing{held: map[string]string{}, settled: map[string]Verdict{}}
	c := runClient(t, lis.Addr().String(), h, nil)
	var st discovery.AggregatedDiscoveryService_StreamAggregatedResourcesServer
	select {
	case st = <-srv.streams:
	case <-time.After(time.Minute):
		t.Fatal("the client opened no stream within a minute")
	}
	recv := func(what string) *discovery.DiscoveryRequest {
		t.Helper()
		r, err := st.Recv()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return r
	}
	nonce := 0
	send := func(typ, version string) string {
		t.Helper()
		nonce++
		n := string(rune('a' + nonce))
		if err := st.Send(&discovery.DiscoveryResponse{TypeUrl: typ, VersionInfo: version, Nonce: n}); err != nil {
			t.Fatalf("send %s %s: %v", typ, version, err)
		}
		return n
	}
	expect := func(what, typ, version, nonce string) {
		t.Helper()
		r := recv(what)
		if r.GetTypeUrl() != typ || r.GetVersionInfo() != version || r.GetResponseNonce() != nonce || r.GetErrorDetail() != nil {
			t.Fatalf("%s: got %s version %q nonce %q error %v; want %s version %q nonce %q and no error",
				what, r.GetTypeUrl(), r.GetVersionInfo(), r.GetResponseNonce(), r.GetErrorDetail(), typ, version, nonce)
		}
	}
	recv("subscription 1")
	recv("subscription 2")

	// v1: ProxyConfig held, settled by its Domains.
	p1 := send(proxyType, "v1")
	d1 := send(domainType, "v1")
	expect("ACK of the held v1 ProxyConfig", proxyType, "v1", p1)
	expect("ACK of the v1 Domains", domainType, "v1", d1)

	// v2's Domains, then v3's ProxyConfig.
	d2 := send(domainType, "v2")
	p3 := send(proxyType, "v3")
	expect("release of the superseded v2 Domains", domainType, "v1", d2)
	d3 := send(domainType, "v3")
	expect("ACK of the held v3 ProxyConfig", proxyType, "v3", p3)
	expect("ACK of the v3 Domains", domainType, "v3", d3)
	if v := c.Versions(); v[domainType] != "v3" || v[proxyType] != "v3" {
		t.Errorf("versions %v, want v3 of both", v)
	}
}
