package admin

import (
	"context"
	"testing"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// nodeList is a NodeLister of fixed nodes, handed out as copies the way
// xds.Tracker does.
type nodeList []*keywayv1.Node

func (l nodeList) Nodes() []*keywayv1.Node {
	out := make([]*keywayv1.Node, len(l))
	for i, n := range l {
		out[i] = &keywayv1.Node{Id: n.GetId(), Connected: n.GetConnected()}
	}
	return out
}

func TestListNodesFillsTelemetry(t *testing.T) {
	stats := map[string][2]float64{"busy": {120.5, 7}}
	lister := nodeList{{Id: "busy", Connected: true}, {Id: "quiet", Connected: true}}
	tests := []struct {
		name      string
		stats     NodeStats
		wantQPS   map[string]float64
		wantConns map[string]int64
	}{
		{"without telemetry", nil, map[string]float64{"busy": 0, "quiet": 0}, map[string]int64{"busy": 0, "quiet": 0}},
		{"with telemetry", func(id string) (float64, int64) { s := stats[id]; return s[0], int64(s[1]) },
			map[string]float64{"busy": 120.5, "quiet": 0}, map[string]int64{"busy": 7, "quiet": 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := NewFleet(lister, nil).WithStats(tc.stats)
			resp, err := f.ListNodes(context.Background(), &keywayv1.ListNodesRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.GetNodes()) != 2 {
				t.Fatalf("got %d nodes, want 2", len(resp.GetNodes()))
			}
			for _, n := range resp.GetNodes() {
				if n.GetQps() != tc.wantQPS[n.GetId()] || n.GetConnections() != tc.wantConns[n.GetId()] {
					t.Errorf("node %s: qps %v conns %d, want %v and %d", n.GetId(), n.GetQps(), n.GetConnections(), tc.wantQPS[n.GetId()], tc.wantConns[n.GetId()])
				}
			}
		})
	}
}
