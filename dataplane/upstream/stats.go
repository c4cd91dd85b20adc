package upstream

// NodeStats describes one node for telemetry.
type NodeStats struct {
	// Upstreams are the policy names that share the node, sorted.
	Upstreams []string
	Addr      string
	// Connections counts the shared connections that are up.
	Connections int
	// Dedicated counts dedicated connections open, idle ones included.
	Dedicated     int
	DedicatedIdle int
	// InFlight counts requests queued or awaiting a reply, including ones
	// whose callers timed out and whose replies will be dropped.
	InFlight int
	Breaker  BreakerState
}

// Stats describes the node; Upstreams is left empty.
func (n *Node) Stats() NodeStats {
	s := NodeStats{Addr: n.addr, Breaker: n.breaker.State()}
	for _, c := range n.shared() {
		if connState(c.state.Load()) == stateUp {
			s.Connections++
		}
		s.InFlight += c.inflight()
	}
	s.Dedicated, s.DedicatedIdle = n.ded.count()
	return s
}
