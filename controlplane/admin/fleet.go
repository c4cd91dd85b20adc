package admin

import (
	"context"
	"sort"

	"google.golang.org/grpc"

	"keyway.dev/controlplane/store"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// NodeLister is the fleet as this control plane sees it: xds.Tracker.
type NodeLister interface {
	Nodes() []*keywayv1.Node
}

// Fleet implements keywayv1.FleetServiceServer.
type Fleet struct {
	keywayv1.UnimplementedFleetServiceServer

	local NodeLister
	store *store.Store
	stats NodeStats
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

// NewFleet returns the fleet service. st may be nil.
func NewFleet(local NodeLister, st *store.Store) *Fleet {
	return &Fleet{local: local, store: st}
}

// Register adds the service to gs.
func (f *Fleet) Register(gs grpc.ServiceRegistrar) { keywayv1.RegisterFleetServiceServer(gs, f) }

// ListNodes returns the nodes streaming from this replica, as it sees them
// now, plus those other replicas recorded in etcd. When etcd is
// unreachable it answers with what this replica knows.
func (f *Fleet) ListNodes(ctx context.Context, _ *keywayv1.ListNodesRequest) (*keywayv1.ListNodesResponse, error) {
	nodes := f.local.Nodes()
	if f.store != nil {
		if remote, err := f.store.Statuses(ctx); err == nil {
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
		}
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].GetId() < nodes[j].GetId() })
	if f.stats != nil {
		// Both sources hand out copies, so filling them in place is safe.
		// Telemetry reaches only the replica a proxy reports to; this
		// replica's view wins over zeros only where it has reports.
		for _, n := range nodes {
			if qps, conns := f.stats(n.GetId()); qps != 0 || conns != 0 {
				n.Qps, n.Connections = qps, conns
			}
		}
	}
	resp := &keywayv1.ListNodesResponse{Nodes: nodes}
	if f.store != nil {
		if ptr, err := f.store.Pointers(ctx); err == nil && ptr.Active != 0 {
			if rec, err := f.store.Get(ctx, ptr.Active); err == nil {
				// Best effort, as the remote nodes above: without etcd the
				// nodes are still worth showing.
				resp.Domains, _ = Domains(ctx, f.store, rec)
			}
		}
	}
	return resp, nil
}

// fresher reports whether a says more about the node now than b: a
// connected record beats a disconnected one, then the later one wins.
func fresher(a, b *keywayv1.Node) bool {
	if a.GetConnected() != b.GetConnected() {
		return a.GetConnected()
	}
	return a.GetLastSeen().AsTime().After(b.GetLastSeen().AsTime())
}
