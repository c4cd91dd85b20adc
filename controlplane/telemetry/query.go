package telemetry

import (
	"sort"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	keywayv1 "keyway.dev/proto/keyway/v1"
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
	t.buckets = addBuckets(t.buckets, c.GetLatency().GetBuckets())
	t.reqBytes += c.GetRequestBytes()
	t.repBytes += c.GetReplyBytes()
}

func (t *traffic) proto() *keywayv1.Traffic {
	p := &keywayv1.Traffic{
		Requests:     t.requests,
		Qps:          t.qps,
		Errors:       t.errors,
		ErrorsByKind: t.byKind,
		P50Seconds:   quantile(t.buckets, 0.50),
		P99Seconds:   quantile(t.buckets, 0.99),
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
func (a *Aggregator) TopSince(window time.Duration, since time.Time, domain string) *keywayv1.TopResponse {
	now := a.now()
	resp := &keywayv1.TopResponse{Time: timestamppb.New(now), WindowSeconds: seconds(window)}
	domains := map[string]*domainAcc{}
	get := func(name string) *domainAcc {
		d := domains[name]
		if d == nil {
			d = &domainAcc{commands: map[string]*traffic{}, tracks: map[string]*traffic{}, hot: map[string]uint64{}}
			domains[name] = d
		}
		return d
	}
	a.mu.Lock()
	a.pruneLocked(now)
	ids := make([]string, 0, len(a.nodes))
	for id := range a.nodes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		n := a.nodes[id]
		rs, span := n.inWindow(now, window, since)
		nodeTop := &keywayv1.NodeTop{NodeId: id, LastReport: timestamppb.New(n.last), FoldedIntervals: n.folded}
		for _, r := range rs {
			for _, c := range r.commands {
				nodeTop.Qps += float64(c.GetRequests()) / span.Seconds()
				if domain != "" && c.GetDomain() != domain {
					continue
				}
				d := get(c.GetDomain())
				d.add(c, span)
				if domain != "" {
					acc(d.commands, c.GetCommand()).add(c, span)
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
		if a.fresh(n, now) {
			for name, c := range n.conns {
				nodeTop.Connections += c
				if domain == "" || name == domain {
					get(name).conns += c
				}
			}
		}
		if len(rs) > 0 || a.fresh(n, now) {
			resp.Nodes = append(resp.Nodes, nodeTop)
		}
	}
	a.mu.Unlock()

	for name, d := range domains {
		resp.Domains = append(resp.Domains, d.proto(name))
	}
	sort.Slice(resp.Domains, func(i, j int) bool {
		return busier(resp.Domains[i].GetTraffic(), resp.Domains[j].GetTraffic(), resp.Domains[i].GetDomain(), resp.Domains[j].GetDomain())
	})
	return resp
}

func (d *domainAcc) proto(name string) *keywayv1.DomainTop {
	out := &keywayv1.DomainTop{Domain: name, Traffic: d.traffic.proto(), Connections: d.conns}
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
func (a *Aggregator) NodeStats(nodeID string) (qps float64, conns int64) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.nodes[nodeID]
	if n == nil {
		return 0, 0
	}
	rs, span := n.inWindow(now, OneMinute, time.Time{})
	for _, r := range rs {
		for _, c := range r.commands {
			qps += float64(c.GetRequests()) / span.Seconds()
		}
	}
	if a.fresh(n, now) {
		for _, c := range n.conns {
			conns += c
		}
	}
	return qps, conns
}
