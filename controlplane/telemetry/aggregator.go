package telemetry

import (
	"errors"
	"sync"
	"time"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Windows the aggregator answers for.
const (
	OneMinute   = time.Minute
	FiveMinutes = 5 * time.Minute
)

// retention is the longest window; older reports are discarded.
const retention = FiveMinutes

// Options configure an Aggregator. Zero values take the defaults.
type Options struct {
	// StaleAfter is how long a node's connection gauges count after its
	// last report; default 30s (several report intervals).
	StaleAfter time.Duration
	// Now is the clock, for tests; default time.Now.
	Now func() time.Time
}

// Aggregator merges proxies' reports into fleet-wide windows. It is safe
// for concurrent use.
type Aggregator struct {
	now   func() time.Time
	stale time.Duration

	mu    sync.Mutex
	nodes map[string]*node
	// remote holds the other replicas' slots by replica, while Share
	// runs (share.go); their reports are slots, oldest first.
	remote map[string]*node
	// pending gathers, while Share runs, what this replica's proxies
	// report until it is written as a slot; nil when not sharing.
	pending *slotAcc
}

// node is one proxy's recent reports, oldest first.
type node struct {
	reports []report
	last    time.Time
	// conns is the latest report's per-domain connection gauge.
	conns  map[string]int64
	folded uint64
}

// report is one ingested interval.
type report struct {
	at       time.Time     // when it arrived, by our clock
	covers   time.Duration // end - start, by the proxy's clock
	commands []*keywayv1.CommandStats
	hot      []*keywayv1.HotKey
	nc       []*keywayv1.NearCacheStats
	folded   uint32
	// For another replica's slot: its etcd key and its proxies' figures.
	key   string
	nodes map[string]slotNode
}

// New returns an empty Aggregator.
func New(opts Options) *Aggregator {
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Aggregator{now: opts.Now, stale: opts.StaleAfter, nodes: map[string]*node{}}
}

// errNoNode refuses reports that do not say who sent them.
var errNoNode = errors.New("report has no node_id")

// Ingest adds one report a proxy sent to this replica; while Share runs,
// it also goes into the next slot written for the other replicas. The
// request is kept, not copied; callers must not modify it afterwards.
func (a *Aggregator) Ingest(req *keywayv1.ReportRequest) error {
	if req.GetNodeId() == "" {
		return errNoNode
	}
	now := a.now()
	r := report{at: now, commands: req.GetCommands(), hot: req.GetHotKeys(), nc: req.GetNearCache(), folded: req.GetFoldedIntervals()}
	if s, e := req.GetStart(), req.GetEnd(); s != nil && e != nil {
		r.covers = max(e.AsTime().Sub(s.AsTime()), 0)
	}
	conns := make(map[string]int64, len(req.GetDomains()))
	for _, d := range req.GetDomains() {
		conns[d.GetDomain()] += d.GetConnections()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.nodes[req.GetNodeId()]
	if n == nil {
		n = &node{}
		a.nodes[req.GetNodeId()] = n
	}
	n.reports = append(n.reports, r)
	n.last = now
	n.conns = conns
	n.folded += uint64(r.folded)
	if a.pending != nil {
		a.pending.add(req, r, now, conns)
	}
	a.pruneLocked(now)
	return nil
}

// pruneLocked drops reports older than the longest window and nodes with
// nothing left to show.
func (a *Aggregator) pruneLocked(now time.Time) {
	cutoff := now.Add(-retention)
	for id, n := range a.nodes {
		i := 0
		for i < len(n.reports) && !n.reports[i].at.After(cutoff) {
			i++
		}
		if i > 0 {
			n.reports = append(n.reports[:0:0], n.reports[i:]...)
		}
		if len(n.reports) == 0 && !n.last.After(cutoff) {
			delete(a.nodes, id)
		}
	}
	for id, n := range a.remote {
		i := 0
		for i < len(n.reports) && !n.reports[i].at.After(cutoff) {
			i++
		}
		if i > 0 {
			n.reports = append(n.reports[:0:0], n.reports[i:]...)
		}
		if len(n.reports) == 0 {
			delete(a.remote, id)
		}
	}
}

// inWindow returns n's reports that arrived within window before now and
// the time they cover, for rates: from the start of the first such report
// to now, at most the window. A node that joined a minute ago has its QPS
// divided by a minute, not by five.
//
// With a non-zero notBefore, reports whose interval began before it (by
// arrival minus the time they cover) are left out, so a question about "the
// time since X" never counts traffic from before X.
func (n *node) inWindow(now time.Time, window time.Duration, notBefore time.Time) ([]report, time.Duration) {
	cutoff := now.Add(-window)
	i := len(n.reports)
	for i > 0 && n.reports[i-1].at.After(cutoff) {
		i--
	}
	rs := n.reports[i:]
	if !notBefore.IsZero() {
		for len(rs) > 0 && rs[0].at.Add(-rs[0].covers).Before(notBefore) {
			rs = rs[1:]
		}
	}
	if len(rs) == 0 {
		return nil, 0
	}
	return rs, spanFrom(now, rs[0].at.Add(-rs[0].covers), window)
}

// spanFrom is the time rates are over for traffic that began at start:
// until now, at most the window.
func spanFrom(now, start time.Time, window time.Duration) time.Duration {
	span := min(now.Sub(start), window)
	if span <= 0 {
		span = time.Second
	}
	return span
}

// fresh reports whether gauges last reported at last still count.
func (a *Aggregator) fresh(last, now time.Time) bool { return now.Sub(last) <= a.stale }
