package admin

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"keyway.dev/controlplane/store"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// NodeLister is the fleet as this control plane sees it: xds.Tracker.
type NodeLister interface {
	// Nodes returns copies of the nodes, sorted by id.
	Nodes() []*keywayv1.Node
}

// Fleet implements keywayv1.FleetServiceServer.
type Fleet struct {
	keywayv1.UnimplementedFleetServiceServer

	local NodeLister
	store *store.Store
	stats NodeStats
	// domains answers --domain; nil: no node passes that filter.
	domains NodeDomains
}

// NodeStats is a node's recent request rate and open client connections,
// from telemetry: telemetry.Aggregator.NodeStats.
type NodeStats func(nodeID string) (qps float64, conns int64)

// WithStats makes ListNodes fill each node's qps and connections from
// stats; nil leaves them zero. It returns f.
func (f *Fleet) WithStats(stats NodeStats) *Fleet {
	f.stats = stats
	return f
}

// NodeDomains is the workload domains in which a node holds client
// connections, from telemetry: telemetry.Aggregator.NodeDomains.
type NodeDomains func(nodeID string) []string

// WithDomains makes ListNodes' domain filter ask domains; nil (the
// default) lets no node through that filter. It returns f.
func (f *Fleet) WithDomains(domains NodeDomains) *Fleet {
	f.domains = domains
	return f
}

// NewFleet returns the fleet service. st may be nil.
func NewFleet(local NodeLister, st *store.Store) *Fleet {
	return &Fleet{local: local, store: st}
}

// Register adds the service to gs.
func (f *Fleet) Register(gs grpc.ServiceRegistrar) { keywayv1.RegisterFleetServiceServer(gs, f) }

// MaxPageSize caps ListNodes' page_size: a page of 1000 nodes is a few
// hundred KB, well under gRPC's 4 MiB default message size whatever the
// fleet's size.
const MaxPageSize = 1000

// ListNodes returns one page of the nodes, sorted by id, that stream from
// this replica, as it sees them now, plus those other replicas recorded
// in etcd, with a summary of every node that passes req's filters. When
// etcd is unreachable it answers with what this replica knows.
func (f *Fleet) ListNodes(ctx context.Context, req *keywayv1.ListNodesRequest) (*keywayv1.ListNodesResponse, error) {
	if req.GetPageSize() < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "page_size %d is negative", req.GetPageSize())
	}
	after, err := decodePageToken(req.GetPageToken())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	nodes := f.merged(ctx)
	nodes = f.filter(nodes, req)
	resp := &keywayv1.ListNodesResponse{Summary: summarize(nodes)}

	page := nodes[sort.Search(len(nodes), func(i int) bool { return nodes[i].GetId() > after }):]
	if size := int(min(req.GetPageSize(), MaxPageSize)); size > 0 && len(page) > size {
		page = page[:size]
		resp.NextPageToken = encodePageToken(page[len(page)-1].GetId())
	}
	if f.stats != nil {
		// Both sources hand out copies, so filling them in place is safe.
		// Telemetry reaches only the replica a proxy reports to; this
		// replica's view wins over zeros only where it has reports.
		for _, n := range page {
			if qps, conns := f.stats(n.GetId()); qps != 0 || conns != 0 {
				n.Qps, n.Connections = qps, conns
			}
		}
	}
	resp.Nodes = page
	if f.store != nil && after == "" {
		// What each domain is served goes with the first page only: it
		// costs etcd reads, and is the same on every page.
		if ptr, err := f.store.Pointers(ctx); err == nil && ptr.Active != 0 {
			if rec, err := f.store.Get(ctx, ptr.Active); err == nil {
				// Best effort, as the remote nodes: without etcd the
				// nodes are still worth showing.
				resp.Domains, _ = Domains(ctx, f.store, rec)
			}
		}
	}
	return resp, nil
}

// merged is this replica's nodes and the other replicas' records, one per
// node id, sorted by id.
func (f *Fleet) merged(ctx context.Context) []*keywayv1.Node {
	nodes := f.local.Nodes() // sorted
	if f.store != nil {
		if remote, err := f.store.Statuses(ctx); err == nil && len(remote) > 0 {
			at := make(map[string]int, len(nodes))
			for i, n := range nodes {
				at[n.GetId()] = i
			}
			for _, n := range remote {
				i, ok := at[n.GetId()]
				switch {
				case !ok:
					nodes = append(nodes, n)
				case fresher(n, nodes[i]):
					// The node moved to another replica since it left this one.
					nodes[i] = n
				}
			}
			sort.Slice(nodes, func(i, j int) bool { return nodes[i].GetId() < nodes[j].GetId() })
		}
	}
	return nodes
}

// filter keeps the nodes that pass every filter req sets, in place.
func (f *Fleet) filter(nodes []*keywayv1.Node, req *keywayv1.ListNodesRequest) []*keywayv1.Node {
	var ids map[string]bool
	if len(req.GetIds()) > 0 {
		ids = make(map[string]bool, len(req.GetIds()))
		for _, id := range req.GetIds() {
			ids[id] = true
		}
	}
	return slices.DeleteFunc(nodes, func(n *keywayv1.Node) bool {
		switch {
		case ids != nil && !ids[n.GetId()]:
		case req.GetVersion() != "" && !runs(n, req.GetVersion()):
		case req.GetNacked() && !Nacking(n):
		case req.GetDisconnected() && n.GetConnected():
		case req.GetDomain() != "" && (f.domains == nil || !slices.Contains(f.domains(n.GetId()), req.GetDomain())):
		default:
			return false
		}
		return true
	})
}

// runs reports whether n runs version: a policy version ("v3") or an
// applied version of any type ("v3-0123abcd").
func runs(n *keywayv1.Node, version string) bool {
	if n.GetPolicyVersion() == version {
		return true
	}
	for _, v := range n.GetApplied() {
		if v == version {
			return true
		}
	}
	return false
}

// Nacking reports whether n still refuses a version: its last NACK names
// one other than what it applied of that type since.
func Nacking(n *keywayv1.Node) bool {
	nk := n.GetLastNack()
	return nk != nil && nk.GetVersion() != "" && n.GetApplied()[nk.GetType()] != nk.GetVersion()
}

func summarize(nodes []*keywayv1.Node) *keywayv1.FleetSummary {
	s := &keywayv1.FleetSummary{Nodes: int64(len(nodes)), Versions: map[string]int64{}}
	for _, n := range nodes {
		if Nacking(n) {
			s.Nacked++
		}
		if n.GetConnected() {
			s.Connected++
			s.Versions[n.GetPolicyVersion()]++
		}
	}
	return s
}

// A page token is the last id of the page before, so pages stay in order
// while nodes come and go between calls; it is opaque to clients.
func encodePageToken(lastID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(lastID))
}

func decodePageToken(tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) == 0 {
		return "", fmt.Errorf("page_token %q is not one a ListNodes response gave", tok)
	}
	return string(b), nil
}

// fresher reports whether a says more about the node now than b: a
// connected record beats a disconnected one, then the later one wins.
func fresher(a, b *keywayv1.Node) bool {
	if a.GetConnected() != b.GetConnected() {
		return a.GetConnected()
	}
	return a.GetLastSeen().AsTime().After(b.GetLastSeen().AsTime())
}
