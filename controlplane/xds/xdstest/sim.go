package xdstest

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/protobuf/types/known/structpb"

	"keyway.dev/controlplane/xds"
	"keyway.dev/policy/snapshot"
)

// TypeURLs are the types a proxy subscribes to, in the order
// keyway-proxy requests them (dataplane/reload.TypeURLs).
var TypeURLs = []string{snapshot.ProxyConfigType, snapshot.DomainType, snapshot.FlagType}

// Sim is a simulated proxy: one raw ADS stream that behaves like
// dataplane/xdsclient with a handler accepting everything. It sends the
// same node (id, cluster "keyway", user agent "keyway-proxy", listeners
// and version metadata, the client feature xds.ProxyConfigByContent
// unless Legacy) on the first request only, subscribes to TypeURLs
// in order claiming the versions it has, ACKs every response, and on a
// broken stream reconnects after a jittered backoff, claiming again.
type Sim struct {
	ID string
	// Listeners is advertised in the node metadata, as keyway-proxy does.
	Listeners string
	// OnAck, when set, is called after each ACK is sent, on the stream's
	// goroutine.
	OnAck func(s *Sim, typeURL, version string)
	// OnClaim, when set, is called after a stream's subscription claimed
	// the versions the sim holds, with each of them: a response whose ACK
	// was lost with its stream is claimed on the next one, not resent.
	OnClaim func(s *Sim, typeURL, version string)
	// Legacy leaves out the client feature xds.ProxyConfigByContent, as
	// proxies from before it did: every push then resends ProxyConfig.
	Legacy bool

	mu       sync.Mutex
	versions map[string]string
	streams  int
	opened   time.Time // when the last stream opened
}

// Opened is when the sim's last stream opened (zero before the first).
func (s *Sim) Opened() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opened
}

// Versions returns the version the sim accepted per type URL.
func (s *Sim) Versions() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.versions))
	for k, v := range s.versions {
		out[k] = v
	}
	return out
}

// Version returns the version the sim accepted of typeURL.
func (s *Sim) Version(typeURL string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.versions[typeURL]
}

// Streams is how many streams the sim has opened.
func (s *Sim) Streams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streams
}

// The sim's backoff is xdsclient's default: 100 ms doubling up to 5 s,
// each wait jittered down to half. Dial the sims' connections with
// xdsclient.ConnectParams so gRPC's own reconnects match too.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// conn is what a *grpc.ClientConn offers to wait for a connection.
type conn interface {
	GetState() connectivity.State
	WaitForStateChange(context.Context, connectivity.State) bool
	Connect()
}

// Run keeps the sim subscribed over cc until ctx ends.
func (s *Sim) Run(ctx context.Context, cc grpc.ClientConnInterface) {
	ads := discovery.NewAggregatedDiscoveryServiceClient(cc)
	wait := minBackoff
	for ctx.Err() == nil {
		began := time.Now()
		if s.stream(ctx, ads) || time.Since(began) >= maxBackoff {
			wait = minBackoff
		}
		d := wait/2 + rand.N(wait/2+1)
		wait = min(2*wait, maxBackoff)
		c, ok := cc.(conn)
		if !ok {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
			continue
		}
		pause(ctx, c, d)
	}
}

// pause is xdsclient's: it waits d, or while the connection is down only
// until gRPC's reconnects bring it up.
func pause(ctx context.Context, cc conn, d time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	st := cc.GetState()
	if st == connectivity.Ready {
		<-ctx.Done()
		return
	}
	for st != connectivity.Ready {
		if st == connectivity.Idle {
			cc.Connect()
		}
		if !cc.WaitForStateChange(ctx, st) {
			return
		}
		st = cc.GetState()
	}
}

// stream runs one ADS stream until it breaks; it reports whether a
// response arrived.
func (s *Sim) stream(ctx context.Context, ads discovery.AggregatedDiscoveryServiceClient) bool {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := ads.StreamAggregatedResources(ctx)
	if err != nil {
		return false
	}
	s.mu.Lock()
	s.streams++
	s.opened = time.Now()
	if s.versions == nil {
		s.versions = map[string]string{}
	}
	s.mu.Unlock()
	md, _ := structpb.NewStruct(map[string]any{"listeners": s.Listeners, "version": "keyway-bench"})
	node := &core.Node{Id: s.ID, Cluster: "keyway", UserAgentName: "keyway-proxy", Metadata: md}
	if !s.Legacy {
		node.ClientFeatures = []string{xds.ProxyConfigByContent}
	}
	for _, t := range TypeURLs {
		req := &discovery.DiscoveryRequest{TypeUrl: t, VersionInfo: s.Version(t)}
		if node != nil {
			req.Node, node = node, nil
		}
		if err := st.Send(req); err != nil {
			return false
		}
	}
	if s.OnClaim != nil {
		for _, t := range TypeURLs {
			if v := s.Version(t); v != "" {
				s.OnClaim(s, t, v)
			}
		}
	}
	received := false
	for {
		resp, err := st.Recv()
		if err != nil {
			return received
		}
		received = true
		t, v := resp.GetTypeUrl(), resp.GetVersionInfo()
		s.mu.Lock()
		s.versions[t] = v
		s.mu.Unlock()
		if err := st.Send(&discovery.DiscoveryRequest{TypeUrl: t, VersionInfo: v, ResponseNonce: resp.GetNonce()}); err != nil {
			return received
		}
		if s.OnAck != nil {
			s.OnAck(s, t, v)
		}
	}
}

// OnPolicy reports whether a proxy that accepted versions (by type URL)
// runs the policy version whose versions start with prefix ("v3-"): its
// Domains, and the ProxyConfig they pair with, of that version or, for a
// proxy pairing by content, of any version with the content the Domains
// name.
func OnPolicy(versions map[string]string, prefix string) bool {
	d, p := versions[snapshot.DomainType], versions[snapshot.ProxyConfigType]
	if !strings.HasPrefix(d, prefix) || p == "" {
		return false
	}
	if strings.HasPrefix(p, prefix) {
		return true
	}
	_, dh, _ := strings.Cut(d, "-")
	_, ph, _ := strings.Cut(p, "-")
	return len(dh) == 16 && dh[8:] == ph
}
