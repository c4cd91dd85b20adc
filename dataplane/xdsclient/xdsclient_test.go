package xdsclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/types/known/anypb"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

const (
	domainType = "type.googleapis.com/keyway.v1.Domain"
	proxyType  = "type.googleapis.com/keyway.v1.ProxyConfig"
)

// snap is the smallest ResourceSnapshot serving custom types: every type
// it holds has the snapshot's version.
type snap struct {
	version string
	byType  map[string]map[string]types.ResourceWithTTL
}

func newSnap(version string, domains ...string) *snap {
	s := &snap{version: version, byType: map[string]map[string]types.ResourceWithTTL{
		domainType: {},
		proxyType:  {"proxy": {Resource: &keywayv1.ProxyConfig{Name: "proxy", Version: version}}},
	}}
	for _, d := range domains {
		s.byType[domainType][d] = types.ResourceWithTTL{Resource: &keywayv1.Domain{Name: d}}
	}
	return s
}

func (s *snap) GetVersion(t string) string {
	if _, ok := s.byType[t]; ok {
		return s.version
	}
	return ""
}

func (s *snap) GetResourcesAndTTL(t string) map[string]types.ResourceWithTTL { return s.byType[t] }

func (s *snap) GetResources(t string) map[string]types.Resource {
	out := map[string]types.Resource{}
	for n, r := range s.byType[t] {
		out[n] = r.Resource
	}
	return out
}

func (s *snap) ConstructVersionMap() error             { return nil }
func (s *snap) GetVersionMap(string) map[string]string { return nil }

// controlPlane is go-control-plane's real ADS server on loopback, with a
// log of every request it received.
type controlPlane struct {
	t     *testing.T
	addr  string
	cache cachev3.SnapshotCache
	gs    *grpc.Server
	done  chan struct{}

	mu   sync.Mutex
	reqs []*discovery.DiscoveryRequest
}

func startControlPlane(t *testing.T, addr string, s *snap) *controlPlane {
	t.Helper()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	cp := &controlPlane{t: t, addr: lis.Addr().String(), cache: cachev3.NewSnapshotCache(false, cachev3.IDHash{}, nil), done: make(chan struct{})}
	cp.set(s)
	ctx, cancel := context.WithCancel(context.Background())
	cbs := serverv3.CallbackFuncs{StreamRequestFunc: func(_ int64, r *discovery.DiscoveryRequest) error {
		cp.mu.Lock()
		cp.reqs = append(cp.reqs, r)
		cp.mu.Unlock()
		return nil
	}}
	// keyway-control's enforcement: with gRPC's default (one ping per
	// 5 min) a test slowed past the client's 15 s keepalive on a loaded
	// machine had its connection closed for too_many_pings.
	cp.gs = grpc.NewServer(grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}))
	discovery.RegisterAggregatedDiscoveryServiceServer(cp.gs, serverv3.NewServer(ctx, cp.cache, cbs))
	go func() {
		defer close(cp.done)
		_ = cp.gs.Serve(lis)
	}()
	t.Cleanup(func() {
		cp.stop() // stopping twice is harmless
		cancel()
	})
	return cp
}

func (cp *controlPlane) stop() {
	cp.gs.Stop()
	<-cp.done
}

func (cp *controlPlane) set(s *snap) {
	if err := cp.cache.SetSnapshot(context.Background(), "proxy-1", s); err != nil {
		cp.t.Fatalf("set snapshot: %v", err)
	}
}

// requests returns the requests received so far that match.
func (cp *controlPlane) requests(match func(*discovery.DiscoveryRequest) bool) []*discovery.DiscoveryRequest {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	var out []*discovery.DiscoveryRequest
	for _, r := range cp.reqs {
		if match(r) {
			out = append(out, r)
		}
	}
	return out
}

func ack(t, version string) func(*discovery.DiscoveryRequest) bool {
	return func(r *discovery.DiscoveryRequest) bool {
		return r.GetTypeUrl() == t && r.GetResponseNonce() != "" && r.GetErrorDetail() == nil && r.GetVersionInfo() == version
	}
}

// recorder is a Handler remembering what it applied; reject makes it
// refuse one version.
type recorder struct {
	mu      sync.Mutex
	applied []string // "type version name,name"
	reject  string
}

func (h *recorder) OnResources(t, v string, rs []*anypb.Any) error {
	var names []string
	for _, r := range rs {
		var d keywayv1.Domain
		var p keywayv1.ProxyConfig
		switch {
		case r.UnmarshalTo(&d) == nil:
			names = append(names, d.GetName())
		case r.UnmarshalTo(&p) == nil:
			names = append(names, p.GetName())
		default:
			return fmt.Errorf("resource of type %s", r.GetTypeUrl())
		}
	}
	if t == domainType && v == h.reject {
		return errors.New("domain \"b\": root.upstream: unknown upstream \"main\"")
	}
	slices.Sort(names)
	h.mu.Lock()
	h.applied = append(h.applied, fmt.Sprintf("%s %s %s", t[strings.LastIndex(t, ".")+1:], v, strings.Join(names, ",")))
	h.mu.Unlock()
	return nil
}

func (h *recorder) has(s string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Contains(h.applied, s)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	// A bound, not a measurement. Conditions scan every request the test
	// server recorded, under the lock its stream needs, and the server
	// without NACK parking resends a refused version in a tight loop, so
	// polling is kept slow enough to leave the stream room, and the bound
	// wide enough for a loaded machine under -race (15 s was once not).
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func runClient(t *testing.T, addr string, h Handler, versions map[string]string) *Client {
	t.Helper()
	c := New(Config{
		Target:   addr,
		NodeID:   "proxy-1",
		Metadata: map[string]string{"listener": "127.0.0.1:6380"},
		TypeURLs: []string{proxyType, domainType},
		Handler:  h,
		Versions: versions,
		Backoff:  Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return c
}

func TestReceiveAndAck(t *testing.T) {
	cp := startControlPlane(t, "127.0.0.1:0", newSnap("v1", "a", "b"))
	h := &recorder{}
	c := runClient(t, cp.addr, h, nil)

	waitFor(t, "domains applied", func() bool { return h.has("Domain v1 a,b") })
	waitFor(t, "proxy config applied", func() bool { return h.has("ProxyConfig v1 proxy") })
	for _, typ := range []string{domainType, proxyType} {
		waitFor(t, "ACK of "+typ, func() bool { return len(cp.requests(ack(typ, "v1"))) > 0 })
	}
	first := cp.requests(func(r *discovery.DiscoveryRequest) bool { return r.GetResponseNonce() == "" })
	if len(first) != 2 {
		t.Fatalf("got %d initial requests, want one per type", len(first))
	}
	n := first[0].GetNode()
	if n.GetId() != "proxy-1" || n.GetCluster() != "keyway" || n.GetMetadata().GetFields()["listener"].GetStringValue() != "127.0.0.1:6380" {
		t.Errorf("node = %v", n)
	}
	if got := c.Versions(); got[domainType] != "v1" || got[proxyType] != "v1" {
		t.Errorf("Versions() = %v", got)
	}
	waitFor(t, "Connected", c.Connected)
}

func TestNack(t *testing.T) {
	cp := startControlPlane(t, "127.0.0.1:0", newSnap("v1", "a"))
	h := &recorder{reject: "v2"}
	c := runClient(t, cp.addr, h, nil)
	waitFor(t, "v1 ACK", func() bool { return len(cp.requests(ack(domainType, "v1"))) > 0 })

	cp.set(newSnap("v2", "a", "b"))
	nack := func(r *discovery.DiscoveryRequest) bool { return r.GetErrorDetail() != nil }
	waitFor(t, "NACK", func() bool { return len(cp.requests(nack)) > 0 })
	r := cp.requests(nack)[0]
	if r.GetTypeUrl() != domainType || r.GetVersionInfo() != "v1" {
		t.Errorf("NACK of %s claims version %q, want the last accepted v1", r.GetTypeUrl(), r.GetVersionInfo())
	}
	if msg := r.GetErrorDetail().GetMessage(); !strings.Contains(msg, `unknown upstream "main"`) {
		t.Errorf("NACK reason %q lacks the handler's error", msg)
	}
	if v := c.Version(domainType); v != "v1" {
		t.Errorf("accepted version after NACK = %q, want v1", v)
	}

	cp.set(newSnap("v3", "a", "c"))
	waitFor(t, "v3 applied", func() bool { return h.has("Domain v3 a,c") })
	waitFor(t, "v3 ACK", func() bool { return len(cp.requests(ack(domainType, "v3"))) > 0 })
}

func TestReconnect(t *testing.T) {
	cp := startControlPlane(t, "127.0.0.1:0", newSnap("v1", "a"))
	h := &recorder{}
	c := runClient(t, cp.addr, h, nil)
	waitFor(t, "v1 ACK", func() bool { return len(cp.requests(ack(domainType, "v1"))) > 0 })
	waitFor(t, "Connected", c.Connected)

	cp.stop()
	waitFor(t, "disconnected", func() bool { return !c.Connected() })

	// The new control plane has a newer snapshot; the client resumes
	// claiming v1 and gets v2.
	cp2 := startControlPlane(t, cp.addr, newSnap("v2", "a", "b"))
	waitFor(t, "v2 applied", func() bool { return h.has("Domain v2 a,b") })
	waitFor(t, "v2 ACK", func() bool { return len(cp2.requests(ack(domainType, "v2"))) > 0 })
	resumed := cp2.requests(func(r *discovery.DiscoveryRequest) bool {
		return r.GetTypeUrl() == domainType && r.GetResponseNonce() == ""
	})
	if len(resumed) != 1 || resumed[0].GetVersionInfo() != "v1" {
		t.Errorf("resumed subscription = %v, want one initial request claiming v1", resumed)
	}
	waitFor(t, "Connected", c.Connected)
}

// TestPauseEndsWhenTheControlPlaneReturns: a proxy whose control plane
// has been away waits for gRPC's next connection attempt, not for its own
// stream backoff, which may have grown to minutes meanwhile.
func TestPauseEndsWhenTheControlPlaneReturns(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(ConnectParams(Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond})))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	paused := make(chan bool, 1)
	go func() { paused <- pause(ctx, cc, time.Hour) }()
	waitFor(t, "connection attempts to fail", func() bool { return cc.GetState() == connectivity.TransientFailure })

	startControlPlane(t, addr, newSnap("v1", "a"))
	var ok bool
	waitFor(t, "pause to end", func() bool {
		select {
		case ok = <-paused:
			return true
		default:
			return false
		}
	})
	if !ok || cc.GetState() != connectivity.Ready {
		t.Errorf("pause = %v with the connection %v, want true and READY", ok, cc.GetState())
	}
}

// TestPauseWaitsOnAReadyConnection: a control plane that is up but ends
// or refuses streams gets the full backoff, not a tight loop.
func TestPauseWaitsOnAReadyConnection(t *testing.T) {
	cp := startControlPlane(t, "127.0.0.1:0", newSnap("v1", "a"))
	cc, err := grpc.NewClient(cp.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cc.Connect()
	waitFor(t, "READY", func() bool { return cc.GetState() == connectivity.Ready })
	// The whole pause, measured from before it began: a lower bound the
	// clock guarantees, whatever the machine's load.
	const d = 50 * time.Millisecond
	start := time.Now()
	if !pause(context.Background(), cc, d) {
		t.Fatal("pause reported its context ended")
	}
	if took := time.Since(start); took < d {
		t.Fatalf("pause on a READY connection ended after %v, before its %v", took, d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	paused := make(chan bool, 1)
	go func() { paused <- pause(ctx, cc, time.Hour) }()
	cancel()
	if <-paused {
		t.Error("pause reported true after its context ended")
	}
}

func TestInitialVersions(t *testing.T) {
	cp := startControlPlane(t, "127.0.0.1:0", newSnap("v7", "a"))
	h := &recorder{}
	runClient(t, cp.addr, h, map[string]string{domainType: "v7", proxyType: "v6"})
	// ProxyConfig is behind and is sent; Domain is claimed current.
	waitFor(t, "proxy config applied", func() bool { return h.has("ProxyConfig v7 proxy") })
	first := cp.requests(func(r *discovery.DiscoveryRequest) bool {
		return r.GetTypeUrl() == domainType && r.GetResponseNonce() == ""
	})
	if len(first) != 1 || first[0].GetVersionInfo() != "v7" {
		t.Errorf("initial domain request = %v, want version v7", first)
	}
}

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: 10 * time.Second}
	tests := []struct {
		attempt  int
		low, top time.Duration
	}{
		{0, 50 * time.Millisecond, 100 * time.Millisecond},
		{1, 100 * time.Millisecond, 200 * time.Millisecond},
		{3, 400 * time.Millisecond, 800 * time.Millisecond},
		{10, 5 * time.Second, 10 * time.Second},
		{1000, 5 * time.Second, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.attempt), func(t *testing.T) {
			for range 100 {
				if d := b.delay(tt.attempt); d < tt.low || d > tt.top {
					t.Fatalf("delay(%d) = %v, want within [%v, %v]", tt.attempt, d, tt.low, tt.top)
				}
			}
		})
	}
}

func TestRunNeedsHandler(t *testing.T) {
	c := New(Config{Target: "127.0.0.1:1", TypeURLs: []string{domainType}})
	if err := c.Run(context.Background()); err == nil {
		t.Fatal("Run without a handler succeeded")
	}
}

// pairing holds the first of a version's two types until the other
// arrives, then accepts both, or refuses both when the version is reject.
type pairing struct {
	mu      sync.Mutex
	reject  string
	held    map[string]string // type URL → version
	settled map[string]Verdict
}

func (h *pairing) OnResources(t, v string, _ []*anypb.Any) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	other := domainType
	if t == domainType {
		other = proxyType
	}
	if h.held[other] != v {
		// As reload.Snapshot does: a held partner of another version is
		// released, or the server would never send its next version.
		if o, ok := h.held[other]; ok {
			delete(h.held, other)
			h.settled[other] = Verdict{Version: o, Superseded: true}
		}
		h.held[t] = v
		return ErrHeld
	}
	delete(h.held, other)
	var err error
	if v == h.reject {
		err = fmt.Errorf("version %s refused", v)
	}
	h.settled[other] = Verdict{Version: v, Err: err}
	return err
}

func (h *pairing) Settled() map[string]Verdict {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.settled
	h.settled = map[string]Verdict{}
	return out
}

// TestHeldUntilSettled checks that a held response is answered only
// once settled, with the verdict of the response that settled it, and
// before that response's own answer.
func TestHeldUntilSettled(t *testing.T) {
	cp := startControlPlane(t, "127.0.0.1:0", newSnap("v1", "a"))
	h := &pairing{reject: "v2", held: map[string]string{}, settled: map[string]Verdict{}}
	c := runClient(t, cp.addr, h, nil)
	for _, typ := range []string{domainType, proxyType} {
		waitFor(t, "v1 ACK of "+typ, func() bool { return len(cp.requests(ack(typ, "v1"))) > 0 })
	}

	cp.set(newSnap("v2", "a", "b"))
	nack := func(r *discovery.DiscoveryRequest) bool { return r.GetErrorDetail() != nil }
	// This server has no NACK parking, so it resends v2 after each NACK.
	waitFor(t, "two NACKs", func() bool { return len(cp.requests(nack)) >= 2 })
	nacks := cp.requests(nack)[:2]
	if nacks[0].GetTypeUrl() == nacks[1].GetTypeUrl() {
		t.Fatalf("both NACKs are of %s", nacks[0].GetTypeUrl())
	}
	for _, r := range nacks {
		if r.GetVersionInfo() != "v1" || !strings.Contains(r.GetErrorDetail().GetMessage(), "version v2 refused") {
			t.Errorf("NACK of %s: version %q reason %q", r.GetTypeUrl(), r.GetVersionInfo(), r.GetErrorDetail().GetMessage())
		}
	}
	if got := c.Versions(); got[domainType] != "v1" || got[proxyType] != "v1" {
		t.Errorf("Versions() after the refusal = %v", got)
	}

	cp.set(newSnap("v3", "a", "c"))
	for _, typ := range []string{domainType, proxyType} {
		waitFor(t, "v3 ACK of "+typ, func() bool { return len(cp.requests(ack(typ, "v3"))) > 0 })
	}
	if n := len(cp.requests(ack(proxyType, "v2"))) + len(cp.requests(ack(domainType, "v2"))); n != 0 {
		t.Errorf("%d ACKs of the refused v2", n)
	}
}

// featured is a recorder announcing a client feature.
type featured struct{ *recorder }

func (featured) ClientFeatures() []string { return []string{"keyway.test_feature"} }

func TestClientFeaturesFromTheHandler(t *testing.T) {
	cp := startControlPlane(t, "127.0.0.1:0", newSnap("v1", "a"))
	runClient(t, cp.addr, featured{&recorder{}}, nil)
	first := func(r *discovery.DiscoveryRequest) bool { return r.GetNode() != nil && r.GetResponseNonce() == "" }
	waitFor(t, "the first request", func() bool { return len(cp.requests(first)) > 0 })
	if got := cp.requests(first)[0].GetNode().GetClientFeatures(); !slices.Equal(got, []string{"keyway.test_feature"}) {
		t.Errorf("node client features %v, want the handler's", got)
	}
}
