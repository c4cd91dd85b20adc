package cluster

import (
	"sort"

	"keyway.dev/dataplane/upstream"
)

var _ upstream.StatsReporter = (*Client)(nil)

// Stats describes every node the client keeps, primaries, replicas and
// seeds, one row per address: a node the client holds in two roles
// (a seed that is a replica) is summed into one row, since telemetry
// labels nodes by address; its breaker is the worse of the two.
func (c *Client) Stats() []upstream.NodeStats {
	c.mu.Lock()
	nodes := make([]*upstream.Node, 0, len(c.nodes))
	for _, n := range c.nodes {
		nodes = append(nodes, n)
	}
	c.mu.Unlock()
	byAddr := make(map[string]int, len(nodes))
	out := make([]upstream.NodeStats, 0, len(nodes))
	for _, n := range nodes {
		s := n.Stats()
		i, ok := byAddr[s.Addr]
		if !ok {
			byAddr[s.Addr] = len(out)
			out = append(out, s)
			continue
		}
		o := &out[i]
		o.Connections += s.Connections
		o.Dedicated += s.Dedicated
		o.DedicatedIdle += s.DedicatedIdle
		o.InFlight += s.InFlight
		o.Breaker = max(o.Breaker, s.Breaker)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}
