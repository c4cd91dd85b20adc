package telemetry

import (
	"sort"
	"time"
)

// NodeDomains returns the workload domains in which node nodeID holds
// client connections, as of its last report (none once it has stopped
// reporting), sorted: what `keyway fleet --domain` filters by. It counts
// the node wherever it reported, as NodeStats does.
func (a *Aggregator) NodeDomains(nodeID string) []string {
	now := a.now()
	a.mu.Lock()
	nr := a.nodeRowsLocked(now, OneMinute, time.Time{}, nodeID, func([]report, time.Duration) {})[nodeID]
	a.mu.Unlock()
	if nr == nil || !a.fresh(nr.last, now) {
		return nil
	}
	var out []string
	for d, c := range nr.conns {
		if c > 0 {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}
