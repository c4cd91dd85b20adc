package telemetry

import (
	"maps"
	"slices"
	"sort"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	keywayv1 "keyway.dev/proto/keyway/v1"
	"keyway.dev/proto/latency"
)

// hotKeysShown is how many hot keys a domain's drill-down lists.
const hotKeysShown = 10

// traffic accumulates a Traffic row over reports of several nodes.
type traffic struct {
	requests, errors   uint64
	qps                float64
	byKind             map[string]uint64
	buckets            []uint64
	reqBytes, repBytes uint64
}

func (t *traffic) add(c *keywayv1.CommandStats, span time.Duration) {
	t.requests += c.GetRequests()
	t.qps += float64(c.GetRequests()) / span.Seconds()
	for k, n := range c.GetErrors() {
		if t.byKind == nil {
			t.byKind = map[string]uint64{}
		}
		t.byKind[k] += n
		t.errors += n
	}
	t.buckets = latency.AddBuckets(t.buckets, c.GetLatency().GetBuckets())
	t.reqBytes += c.GetRequestBytes()
	t.repBytes += c.GetReplyBytes()
}

func (t *traffic) proto() *keywayv1.Traffic {
	p := &keywayv1.Traffic{
		Requests:     t.requests,
		Qps:          t.qps,
		Errors:       t.errors,
		ErrorsByKind: t.byKind,
		P50Seconds:   latency.QuantileSeconds(t.buckets, 0.50),
		P99Seconds:   latency.QuantileSeconds(t.buckets, 0.99),
		RequestBytes: t.reqBytes,
		ReplyBytes:   t.repBytes,
	}
	if t.requests > 0 {
		p.ErrorRate = float64(t.errors) / float64(t.requests)
	}
	return p
}

// domainAcc accumulates one domain.
type domainAcc struct {
	traffic
	conns    int64
	commands map[string]*traffic
	tracks   map[string]*traffic
	hot      map[string]uint64
	nc       ncAcc
}

func acc[K comparable, V any](m map[K]*V, k K) *V {
	v := m[k]
	if v == nil {
		v = new(V)
		m[k] = v
	}
	return v
}

// WindowOf maps the API's window to its length.
func WindowOf(w keywayv1.Window) time.Duration {
	if w == keywayv1.Window_WINDOW_FIVE_MINUTES {
		return FiveMinutes
	}
	return OneMinute
}

// Top summarizes the window ending now per domain, busiest first. With a
// domain it answers only that domain, with its commands, tracks and hot
// keys.
func (a *Aggregator) Top(window time.Duration, domain string) *keywayv1.TopResponse {
	return a.TopSince(window, time.Time{}, domain)
}

// TopSince is Top counting only reports whose interval began at or after
// since: the rollout controller asks it about the time since a rollout
// started, so a previous rollout's canary traffic cannot trip its guards.
//
// While Share runs, it counts the other replicas' slots too; a slot
// counts only as a whole, so one holding a report that began before
// since is left out.
func (a *Aggregator) TopSince(window time.Duration, since time.Time, domain string) *keywayv1.TopResponse {
	now := a.now()
	resp := &keywayv1.TopResponse{Time: timestamppb.New(now), WindowSeconds: window.Seconds()}
	domains := map[string]*domainAcc{}
	get := func(name string) *domainAcc {
		d := domains[name]
		if d == nil {
			d = &domainAcc{commands: map[string]*traffic{}, tracks: map[string]*traffic{}, hot: map[string]uint64{}}
			domains[name] = d
		}
		return d
	}
	count := func(rs []report, span time.Duration) {
		countNearCache(rs, domain, get)
		for _, r := range rs {
			for _, c := range r.commands {
				if domain != "" && c.GetDomain() != domain {
					continue
				}
				d := get(c.GetDomain())
				d.add(c, span)
				if domain != "" {
					// A slot too large to share per command has none.
					if c.GetCommand() != "" {
						acc(d.commands, c.GetCommand()).add(c, span)
					}
					acc(d.tracks, c.GetTrack()).add(c, span)
				}
			}
			if domain != "" {
				for _, h := range r.hot {
					if h.GetDomain() == domain {
						get(domain).hot[h.GetKey()] += h.GetCount()
					}
				}
			}
		}
	}
	a.mu.Lock()
	a.pruneLocked(now)
	nodes := a.nodeRowsLocked(now, window, since, "", count)
	a.mu.Unlock()

	for _, id := range slices.Sorted(maps.Keys(nodes)) {
		nr := nodes[id]
		fresh := a.fresh(nr.last, now)
		nodeTop := &keywayv1.NodeTop{NodeId: id, LastReport: timestamppb.New(nr.last), FoldedIntervals: nr.folded, Qps: nr.qps}
		if fresh {
			for name, c := range nr.conns {
				nodeTop.Connections += c
				if domain == "" || name == domain {
					get(name).conns += c
				}
			}
		}
		if nr.active || fresh {
			resp.Nodes = append(resp.Nodes, nodeTop)
		}
	}

	for name, d := range domains {
		resp.Domains = append(resp.Domains, d.proto(name))
	}
	sort.Slice(resp.Domains, func(i, j int) bool {
		return busier(resp.Domains[i].GetTraffic(), resp.Domains[j].GetTraffic(), resp.Domains[i].GetDomain(), resp.Domains[j].GetDomain())
	})
	return resp
}

// nodeRow is one proxy's figures, gathered from this replica's reports
// and the other replicas' slots (a proxy that moved has both).
type nodeRow struct {
	qps    float64
	active bool // it has traffic in the window
	last   time.Time
	conns  map[string]int64 // its gauges as of last
	folded uint64
}

// seen notes a report or slot entry of the proxy made at last.
func (nr *nodeRow) seen(last time.Time, conns map[string]int64) {
	if !last.Before(nr.last) {
		nr.last, nr.conns = last, conns
	}
}

// nodeRowsLocked passes count the reports of this replica's proxies and
// the other replicas' slots within window and since, each with the span
// its rates are over, and returns each proxy's row; with only, just that
// proxy's row, without looking at the others'.
func (a *Aggregator) nodeRowsLocked(now time.Time, window time.Duration, since time.Time, only string, count func([]report, time.Duration)) map[string]*nodeRow {
	rows := map[string]*nodeRow{}
	row := func(id string) *nodeRow {
		nr := rows[id]
		if nr == nil {
			nr = &nodeRow{}
			rows[id] = nr
		}
		return nr
	}
	ids := []string{only}
	if only == "" {
		ids = slices.Sorted(maps.Keys(a.nodes))
	}
	for _, id := range ids {
		n := a.nodes[id]
		if n == nil {
			continue
		}
		rs, span := n.inWindow(now, window, since)
		count(rs, span)
		nr := row(id)
		for _, r := range rs {
			for _, c := range r.commands {
				nr.qps += float64(c.GetRequests()) / span.Seconds()
			}
		}
		nr.active = nr.active || len(rs) > 0
		nr.seen(n.last, n.conns)
		nr.folded += n.folded
	}
	each := func(r report, fn func(slotNode)) {
		if only == "" {
			for _, sn := range r.nodes {
				fn(sn)
			}
		} else if sn, ok := r.nodes[only]; ok {
			fn(sn)
		}
	}
	for _, replica := range slices.Sorted(maps.Keys(a.remote)) {
		rep := a.remote[replica]
		rs, span := rep.inWindow(now, window, since)
		count(rs, span)
		// A proxy's rate is over the slots that hold it, from the first.
		first := map[string]time.Time{}
		reqs := map[string]uint64{}
		for _, r := range rs {
			each(r, func(sn slotNode) {
				if _, ok := first[sn.id]; !ok {
					first[sn.id] = r.at.Add(-r.covers)
				}
				reqs[sn.id] += sn.requests
			})
		}
		for _, id := range slices.Sorted(maps.Keys(reqs)) {
			nr := row(id)
			nr.qps += float64(reqs[id]) / spanFrom(now, first[id], window).Seconds()
			nr.active = true
		}
		for _, r := range rep.reports {
			each(r, func(sn slotNode) {
				nr := row(sn.id)
				nr.seen(sn.last, sn.conns)
				nr.folded += uint64(sn.folded)
			})
		}
	}
	return rows
}

func (d *domainAcc) proto(name string) *keywayv1.DomainTop {
	out := &keywayv1.DomainTop{Domain: name, Traffic: d.traffic.proto(), Connections: d.conns, NearCache: d.nc.proto()}
	for cmd, t := range d.commands {
		out.Commands = append(out.Commands, &keywayv1.CommandTop{Command: cmd, Traffic: t.proto()})
	}
	sort.Slice(out.Commands, func(i, j int) bool {
		return busier(out.Commands[i].GetTraffic(), out.Commands[j].GetTraffic(), out.Commands[i].GetCommand(), out.Commands[j].GetCommand())
	})
	for track, t := range d.tracks {
		out.Tracks = append(out.Tracks, &keywayv1.TrackTop{Track: track, Traffic: t.proto()})
	}
	sort.Slice(out.Tracks, func(i, j int) bool { return out.Tracks[i].GetTrack() < out.Tracks[j].GetTrack() })
	for k, c := range d.hot {
		out.HotKeys = append(out.HotKeys, &keywayv1.HotKey{Domain: name, Key: k, Count: c})
	}
	sort.Slice(out.HotKeys, func(i, j int) bool {
		if out.HotKeys[i].GetCount() != out.HotKeys[j].GetCount() {
			return out.HotKeys[i].GetCount() > out.HotKeys[j].GetCount()
		}
		return out.HotKeys[i].GetKey() < out.HotKeys[j].GetKey()
	})
	if len(out.HotKeys) > hotKeysShown {
		out.HotKeys = out.HotKeys[:hotKeysShown]
	}
	return out
}

// busier orders rows by requests, then by name for a stable table.
func busier(a, b *keywayv1.Traffic, an, bn string) bool {
	if a.GetRequests() != b.GetRequests() {
		return a.GetRequests() > b.GetRequests()
	}
	return an < bn
}

// NodeStats is one node's request rate over the last minute and its open
// client connections (0 once it has stopped reporting), for the fleet view.
// It counts the node wherever it reported: to this replica or, while
// Share runs, to another one.
func (a *Aggregator) NodeStats(nodeID string) (qps float64, conns int64) {
	now := a.now()
	a.mu.Lock()
	nr := a.nodeRowsLocked(now, OneMinute, time.Time{}, nodeID, func([]report, time.Duration) {})[nodeID]
	a.mu.Unlock()
	if nr == nil {
		return 0, 0
	}
	if a.fresh(nr.last, now) {
		for _, c := range nr.conns {
			conns += c
		}
	}
	return nr.qps, conns
}
