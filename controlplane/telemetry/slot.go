package telemetry

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	keywayv1 "keyway.dev/proto/keyway/v1"
	"keyway.dev/proto/latency"
)

// A slot is what one replica's proxies reported between two of its
// writes, merged: per (domain, track, command) the counts, errors, bytes
// and latency histogram summed over its proxies and upstreams, each
// domain's hottest keys, and per proxy its request total and latest
// connection gauges. Its size depends on the policy (domains, commands)
// and on the proxies connected to the replica, not on how much or how
// often they report.
//
// In etcd a slot is a sequence of length-prefixed ReportRequests: first
// the merged report (no node_id; start is the earliest start of an
// interval it holds, end when it was written), then one per proxy (node_id,
// end its last report, domains its gauges, folded_intervals, and a single
// command row with only its request total).

// hotKeysShared is how many hot keys per domain a slot keeps; more than
// a drill-down shows, so merging the replicas' lists rarely misses one.
const hotKeysShared = 2 * hotKeysShown

// maxSlotBytes keeps a slot well inside etcd's request limit (1.5 MiB by
// default). A slot that would be larger drops its per-command rows and hot
// keys, keeping per-track totals: the guards still see every request.
const maxSlotBytes = 512 << 10

type rowKey struct{ domain, track, command string }

// slotAcc merges the reports this replica receives until the next write.
type slotAcc struct {
	from  time.Time
	rows  map[rowKey]*keywayv1.CommandStats
	hot   map[string]map[string]uint64
	nodes map[string]*slotNode
	nc    slotNearCache
}

// slotNode is one proxy's part of a slot.
type slotNode struct {
	id       string
	requests uint64
	last     time.Time
	conns    map[string]int64
	folded   uint32
}

func newSlotAcc() *slotAcc {
	return &slotAcc{rows: map[rowKey]*keywayv1.CommandStats{}, hot: map[string]map[string]uint64{}, nodes: map[string]*slotNode{}}
}

func (s *slotAcc) empty() bool { return len(s.nodes) == 0 }

// add merges one ingested report; r is its ingested form, conns its
// connection gauges by domain.
func (s *slotAcc) add(req *keywayv1.ReportRequest, r report, now time.Time, conns map[string]int64) {
	if start := r.at.Add(-r.covers); s.from.IsZero() || start.Before(s.from) {
		s.from = start
	}
	n := s.nodes[req.GetNodeId()]
	if n == nil {
		n = &slotNode{id: req.GetNodeId()}
		s.nodes[n.id] = n
	}
	n.last, n.conns = now, conns
	n.folded += r.folded
	for _, c := range r.commands {
		n.requests += c.GetRequests()
		k := rowKey{c.GetDomain(), c.GetTrack(), c.GetCommand()}
		row := s.rows[k]
		if row == nil {
			row = &keywayv1.CommandStats{Domain: k.domain, Track: k.track, Command: k.command, Latency: &keywayv1.LatencyHistogram{}}
			s.rows[k] = row
		}
		mergeStats(row, c)
	}
	s.nc.add(n.id, r.nc)
	for _, h := range r.hot {
		m := s.hot[h.GetDomain()]
		if m == nil {
			m = map[string]uint64{}
			s.hot[h.GetDomain()] = m
		}
		m[h.GetKey()] += h.GetCount()
	}
}

// mergeStats adds c into row.
func mergeStats(row, c *keywayv1.CommandStats) {
	row.Requests += c.GetRequests()
	row.RequestBytes += c.GetRequestBytes()
	row.ReplyBytes += c.GetReplyBytes()
	for k, n := range c.GetErrors() {
		if row.Errors == nil {
			row.Errors = map[string]uint64{}
		}
		row.Errors[k] += n
	}
	h := row.GetLatency()
	h.Buckets = latency.AddBuckets(h.Buckets, c.GetLatency().GetBuckets())
	h.Count += c.GetLatency().GetCount()
	h.SumSeconds += c.GetLatency().GetSumSeconds()
}

// encode writes the slot as of end. It returns whether the slot had to
// drop its per-command rows and hot keys to stay under maxSlotBytes, and
// an error if even that was not enough.
func (s *slotAcc) encode(end time.Time) (b []byte, collapsed bool, err error) {
	rows := slices.Collect(maps.Values(s.rows))
	b, err = s.encodeRows(end, rows, true)
	if err != nil || len(b) <= maxSlotBytes {
		return b, false, err
	}
	// Too many commands: keep one row per (domain, track).
	byTrack := map[rowKey]*keywayv1.CommandStats{}
	for _, r := range rows {
		k := rowKey{domain: r.GetDomain(), track: r.GetTrack()}
		t := byTrack[k]
		if t == nil {
			t = &keywayv1.CommandStats{Domain: k.domain, Track: k.track, Latency: &keywayv1.LatencyHistogram{}}
			byTrack[k] = t
		}
		mergeStats(t, r)
	}
	b, err = s.encodeRows(end, slices.Collect(maps.Values(byTrack)), false)
	if err == nil && len(b) > maxSlotBytes {
		err = fmt.Errorf("slot of %d bytes is over the limit of %d even with one row per domain and track", len(b), maxSlotBytes)
	}
	return b, true, err
}

func (s *slotAcc) encodeRows(end time.Time, rows []*keywayv1.CommandStats, hot bool) ([]byte, error) {
	slices.SortFunc(rows, func(a, b *keywayv1.CommandStats) int {
		return cmp.Or(cmp.Compare(a.GetDomain(), b.GetDomain()), cmp.Compare(a.GetTrack(), b.GetTrack()), cmp.Compare(a.GetCommand(), b.GetCommand()))
	})
	merged := &keywayv1.ReportRequest{Start: timestamppb.New(s.from), End: timestamppb.New(end), Commands: rows, NearCache: s.nc.merged()}
	if hot {
		for _, d := range slices.Sorted(maps.Keys(s.hot)) {
			var keys []*keywayv1.HotKey
			for k, c := range s.hot[d] {
				keys = append(keys, &keywayv1.HotKey{Domain: d, Key: k, Count: c})
			}
			slices.SortFunc(keys, func(a, b *keywayv1.HotKey) int {
				return cmp.Or(cmp.Compare(b.GetCount(), a.GetCount()), cmp.Compare(a.GetKey(), b.GetKey()))
			})
			merged.HotKeys = append(merged.HotKeys, keys[:min(len(keys), hotKeysShared)]...)
		}
	}
	msgs := []proto.Message{merged}
	for _, id := range slices.Sorted(maps.Keys(s.nodes)) {
		n := s.nodes[id]
		m := &keywayv1.ReportRequest{NodeId: id, End: timestamppb.New(n.last), FoldedIntervals: n.folded,
			Commands: []*keywayv1.CommandStats{{Requests: n.requests}}}
		for _, d := range slices.Sorted(maps.Keys(n.conns)) {
			m.Domains = append(m.Domains, &keywayv1.DomainGauge{Domain: d, Connections: n.conns[d]})
		}
		msgs = append(msgs, m)
	}
	var out []byte
	for _, m := range msgs {
		b, err := proto.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("encode slot: %w", err)
		}
		out = protowire.AppendBytes(out, b)
	}
	return out, nil
}

// decodeSlot reads a slot written by encode as a report of its replica.
func decodeSlot(key string, b []byte) (report, error) {
	var r report
	for first := true; len(b) > 0; first = false {
		msg, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return report{}, errors.New("truncated slot")
		}
		b = b[n:]
		m := &keywayv1.ReportRequest{}
		if err := proto.Unmarshal(msg, m); err != nil {
			return report{}, fmt.Errorf("decode slot: %w", err)
		}
		if first {
			if m.GetNodeId() != "" || m.GetEnd() == nil || m.GetStart() == nil {
				return report{}, errors.New("slot does not begin with its merged report")
			}
			r = report{key: key, at: m.GetEnd().AsTime(), covers: max(m.GetEnd().AsTime().Sub(m.GetStart().AsTime()), 0),
				commands: m.GetCommands(), hot: m.GetHotKeys(), nc: m.GetNearCache()}
			continue
		}
		if m.GetNodeId() == "" {
			return report{}, errors.New("slot names no proxy")
		}
		sn := slotNode{id: m.GetNodeId(), last: m.GetEnd().AsTime(), folded: m.GetFoldedIntervals(), conns: map[string]int64{}}
		for _, c := range m.GetCommands() {
			sn.requests += c.GetRequests()
		}
		for _, d := range m.GetDomains() {
			sn.conns[d.GetDomain()] += d.GetConnections()
		}
		if r.nodes == nil {
			r.nodes = map[string]slotNode{}
		}
		r.nodes[sn.id] = sn
	}
	if r.at.IsZero() {
		return report{}, errors.New("empty slot")
	}
	return r, nil
}
