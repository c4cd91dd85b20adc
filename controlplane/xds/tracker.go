package xds

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// StatusSink persists node status. Its methods must not block: they are
// called on ADS stream goroutines. store.Store implements it.
type StatusSink interface {
	// RecordStatus is called when what a node runs, refused or whether
	// it is connected changes; never for an ACK that changes nothing.
	RecordStatus(*keywayv1.Node)
	// ForgetStatus is called when a node has been gone for the tracker's
	// ForgetAfter.
	ForgetStatus(id string)
}

// DefaultForgetAfter is how long a disconnected node stays in the fleet
// view before it is forgotten.
const DefaultForgetAfter = time.Hour

// Tracker is the ADS server's callbacks: it classifies every request as
// initial, ACK, NACK or stale, keeps per node what it applied and last
// refused, and tells the NACK-parking cache which version to hold back.
type Tracker struct {
	// CallbackFuncs supplies no-ops for the delta and REST callbacks.
	serverv3.CallbackFuncs

	sink        StatusSink
	now         func() time.Time
	forgetAfter time.Duration

	mu      sync.Mutex
	streams map[int64]*stream
	nodes   map[string]*keywayv1.Node
	conns   map[string]int
	// parked maps a NACK request to the version it rejected; the cache
	// wrapper consumes it in CreateWatch, which the server calls right
	// after the callback on the same goroutine.
	parked map[*discovery.DiscoveryRequest]string
}

var _ serverv3.Callbacks = (*Tracker)(nil)

// stream is what one ADS stream has been sent.
type stream struct {
	node string
	peer string
	sent map[string]sent // by type URL
	// byContent: the proxy pairs ProxyConfigs by content
	// (ProxyConfigByContent).
	byContent bool
}

type sent struct{ nonce, version string }

// NewTracker returns a Tracker persisting to sink (nil: memory only) that
// forgets nodes disconnected for DefaultForgetAfter.
func NewTracker(sink StatusSink) *Tracker {
	return &Tracker{
		sink:        sink,
		now:         time.Now,
		forgetAfter: DefaultForgetAfter,
		streams:     map[int64]*stream{},
		nodes:       map[string]*keywayv1.Node{},
		conns:       map[string]int{},
		parked:      map[*discovery.DiscoveryRequest]string{},
	}
}

// Nodes returns every node seen since start, sorted by id.
func (t *Tracker) Nodes() []*keywayv1.Node {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*keywayv1.Node, 0, len(t.nodes))
	for _, n := range t.nodes {
		out = append(out, copyNode(n))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetId() < out[j].GetId() })
	return out
}

// copyNode is proto.Clone for a node of the tracker, several times faster:
// keyway fleet lists every node per page. Only the Applied map is updated
// in place; LastSeen, LastNack and Listeners are replaced, never written
// to, so the copy may share them.
func copyNode(n *keywayv1.Node) *keywayv1.Node {
	return &keywayv1.Node{
		Id:            n.Id,
		Peer:          n.Peer,
		Connected:     n.Connected,
		LastSeen:      n.LastSeen,
		Applied:       maps.Clone(n.Applied),
		LastNack:      n.LastNack,
		Qps:           n.Qps,
		Connections:   n.Connections,
		PolicyVersion: n.PolicyVersion,
		Listeners:     n.Listeners,
	}
}

// OnStreamOpen remembers the stream's peer address.
func (t *Tracker) OnStreamOpen(ctx context.Context, id int64, _ string) error {
	st := &stream{sent: map[string]sent{}}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		st.peer = p.Addr.String()
	}
	t.mu.Lock()
	t.streams[id] = st
	t.mu.Unlock()
	return nil
}

// OnStreamClosed marks the node disconnected once its last stream ends.
func (t *Tracker) OnStreamClosed(id int64, _ *core.Node) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, ok := t.streams[id]
	delete(t.streams, id)
	if !ok || st.node == "" {
		return
	}
	t.conns[st.node]--
	if t.conns[st.node] > 0 {
		return
	}
	delete(t.conns, st.node)
	n := t.nodes[st.node]
	n.Connected = false
	n.LastSeen = timestamppb.New(t.now())
	t.record(n)
}

// OnStreamRequest classifies req and updates its node. It runs before the
// server's own stale-nonce check, so it repeats that check.
func (t *Tracker) OnStreamRequest(id int64, req *discovery.DiscoveryRequest) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, ok := t.streams[id]
	if !ok {
		return errors.New("request on an unknown stream")
	}
	// changed says whether anything a status record holds, LastSeen
	// aside, is different after this request: most requests are ACKs of
	// what the node already runs and must cost no write.
	changed := false
	if st.node == "" {
		nodeID := req.GetNode().GetId()
		if nodeID == "" {
			return errors.New("node id is required")
		}
		st.node = nodeID
		st.byContent = byContent(req.GetNode())
		t.conns[nodeID]++
		n, ok := t.nodes[nodeID]
		if !ok {
			n = &keywayv1.Node{Id: nodeID, Applied: map[string]string{}}
			t.nodes[nodeID] = n
		}
		ls := listeners(req.GetNode())
		changed = !ok || !n.Connected || n.Peer != st.peer || !slices.Equal(n.Listeners, ls)
		n.Connected = true
		n.Peer = st.peer
		n.Listeners = ls
	}
	n := t.nodes[st.node]
	n.LastSeen = timestamppb.New(t.now())
	typ := shortType(req.GetTypeUrl())
	last := st.sent[req.GetTypeUrl()]

	switch {
	case req.GetResponseNonce() != "" && last.nonce != "" && req.GetResponseNonce() != last.nonce:
		// Stale: answers a response superseded since; the server ignores it.
	case req.GetErrorDetail() != nil && last.nonce != "":
		n.LastNack = &keywayv1.Nack{
			Type:    typ,
			Version: last.version,
			Error:   req.GetErrorDetail().GetMessage(),
			Time:    timestamppb.New(t.now()),
		}
		t.parked[req] = last.version
		changed = true
		fallthrough
	default:
		// Initial requests carry the version a reconnecting proxy runs;
		// ACKs the one it applied; NACKs the one it still runs.
		if v := req.GetVersionInfo(); v != "" && n.Applied[typ] != v {
			n.Applied[typ] = v
			changed = true
		}
	}
	// A proxy pairing by content is not resent an unchanged ProxyConfig
	// under a new policy version; what it runs is that version's
	// ProxyConfig all the same, and the fleet view says so.
	if v, ok := runsProxyConfig(n.Applied); ok && st.byContent && n.Applied["ProxyConfig"] != v {
		n.Applied["ProxyConfig"] = v
		changed = true
	}
	if changed {
		n.PolicyVersion = policyVersion(n.Applied)
		t.record(n)
	}
	return nil
}

// Expire forgets every node disconnected for longer than the tracker's
// ForgetAfter, in memory and in the sink, and returns how many.
func (t *Tracker) Expire() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	cutoff := t.now().Add(-t.forgetAfter)
	n := 0
	for id, node := range t.nodes {
		if node.GetConnected() || t.conns[id] > 0 || !node.GetLastSeen().AsTime().Before(cutoff) {
			continue
		}
		delete(t.nodes, id)
		if t.sink != nil {
			t.sink.ForgetStatus(id)
		}
		n++
	}
	return n
}

// expire runs Expire every quarter of ForgetAfter (at most every minute)
// until ctx ends.
func (t *Tracker) expire(ctx context.Context) {
	tick := time.NewTicker(min(max(t.forgetAfter/4, 10*time.Millisecond), time.Minute))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.Expire()
		}
	}
}

// OnStreamResponse remembers which version each nonce carried, so a NACK
// can name the version it refused.
func (t *Tracker) OnStreamResponse(_ context.Context, id int64, req *discovery.DiscoveryRequest, resp *discovery.DiscoveryResponse) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if st, ok := t.streams[id]; ok {
		st.sent[req.GetTypeUrl()] = sent{nonce: resp.GetNonce(), version: resp.GetVersionInfo()}
	}
}

// takeParked returns and forgets the version req rejected, if it is a NACK.
func (t *Tracker) takeParked(req *discovery.DiscoveryRequest) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.parked[req]
	delete(t.parked, req)
	return v, ok
}

// record hands a copy of n to the sink; callers hold t.mu.
func (t *Tracker) record(n *keywayv1.Node) {
	if t.sink != nil {
		t.sink.RecordStatus(proto.Clone(n).(*keywayv1.Node))
	}
}

// shortType turns "type.googleapis.com/keyway.v1.Domain" into "Domain".
func shortType(typeURL string) string {
	return typeURL[strings.LastIndexByte(typeURL, '.')+1:]
}

// policyVersion derives "v3" from the applied Domain (else ProxyConfig)
// version "v3-0123abcd".
func policyVersion(applied map[string]string) string {
	for _, typ := range []string{"Domain", "ProxyConfig"} {
		if v, _, ok := strings.Cut(applied[typ], "-"); ok {
			return v
		}
	}
	return ""
}

// listeners reads the client listeners a proxy advertises in its node
// metadata under "listeners": a list of "host:port" strings, or one string
// of them separated by commas (keyway-proxy's metadata is flat strings).
func listeners(n *core.Node) []string {
	var out []string
	f := n.GetMetadata().GetFields()["listeners"]
	for _, v := range f.GetListValue().GetValues() {
		if s := v.GetStringValue(); s != "" {
			out = append(out, s)
		}
	}
	for _, s := range strings.Split(f.GetStringValue(), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
