package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Sharing between control-plane replicas. A proxy reports to the replica
// its connection landed on, behind whatever balancer fronts them; the
// rollout leader's guards and `keyway top` on any replica must still see
// the whole fleet. So each replica passes the reports its proxies sent on
// to the others through etcd, which every replica already shares:
//
//   - every ShareInterval it writes the reports that arrived since the
//     last write, as they arrived, under one key of its own, attached to a
//     lease that expires them after ShareTTL (etcd is a transport here,
//     not a store: nothing reads the keys later);
//   - it watches the other replicas' keys and ingests their reports as if
//     their proxies had reported to it, node ids and all.
//
// Reports are the proxies' own summaries (a few KB every few seconds per
// proxy) rather than merged windows, so every replica computes exactly
// the same windows, histograms and per-node figures. A report is shared
// only by the replica its proxy reported to, and shared reports are never
// shared again, so nothing is counted twice. A replica that starts sees
// the others' reports from then on; its windows fill within five minutes.

// ShareOptions tune Share. Zero values take the defaults.
type ShareOptions struct {
	// Interval is how often pending reports are written; default 2s.
	Interval time.Duration
	// TTL is how long a written batch stays in etcd; default 60s.
	TTL time.Duration
	// Logger receives errors; nil discards them.
	Logger *slog.Logger
}

// shareState is what Ingest hands to Share: the reports proxies sent to
// this replica and not written yet.
type shareState struct {
	mu      sync.Mutex
	on      bool
	pending [][]byte
}

// offer queues a proxy's report for the other replicas, when sharing.
func (s *shareState) offer(req *keywayv1.ReportRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.on {
		return
	}
	b, err := proto.Marshal(req)
	if err != nil {
		return // a message that arrived over gRPC always marshals
	}
	s.pending = append(s.pending, b)
}

func (s *shareState) take() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending
	s.pending = nil
	return p
}

// Share runs until ctx ends: it passes the reports this replica's proxies
// send to the other replicas of fleet through etcd, and ingests theirs.
// replica names this replica; it must differ between replicas.
func (a *Aggregator) Share(ctx context.Context, cli *clientv3.Client, fleet, replica string, opts ShareOptions) error {
	if opts.Interval <= 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.TTL <= 0 {
		opts.TTL = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if fleet == "" {
		fleet = "default"
	}
	prefix := "/keyway/" + fleet + "/telemetry/"
	own := prefix + escapeReplica(replica) + "/"

	// Watch from the revision sharing starts at, so nothing the others
	// write from then on is missed, however long the watch takes to open.
	g, err := cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return fmt.Errorf("share telemetry: %w", err)
	}
	from := g.Header.Revision + 1
	a.share.mu.Lock()
	a.share.on = true
	a.share.mu.Unlock()
	defer func() {
		a.share.mu.Lock()
		a.share.on, a.share.pending = false, nil
		a.share.mu.Unlock()
	}()

	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { a.receive(ctx, cli, prefix, own, from, opts.Logger) })

	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	var lease clientv3.LeaseID
	var leaseAt time.Time
	seq := uint64(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		batch := a.share.take()
		if len(batch) == 0 {
			continue
		}
		// One lease serves the writes of half its life, so each key
		// lives between TTL/2 and TTL and leases are not granted per write.
		if lease == 0 || time.Since(leaseAt) > opts.TTL/2 {
			g, err := cli.Grant(ctx, int64(opts.TTL/time.Second))
			if err != nil {
				opts.Logger.Warn("cannot share telemetry with the other replicas", "err", err)
				continue
			}
			lease, leaseAt = g.ID, time.Now()
		}
		seq++
		key := fmt.Sprintf("%s%020d", own, seq)
		if _, err := cli.Put(ctx, key, string(frame(batch)), clientv3.WithLease(lease)); err != nil && ctx.Err() == nil {
			opts.Logger.Warn("cannot share telemetry with the other replicas", "err", err)
			lease = 0
		}
	}
}

// receive ingests the reports other replicas write from revision from
// on, until ctx ends. A broken watch is opened again where it stopped
// (or at the present, when etcd compacted that far).
func (a *Aggregator) receive(ctx context.Context, cli *clientv3.Client, prefix, own string, from int64, log *slog.Logger) {
	for ctx.Err() == nil {
		wctx := clientv3.WithRequireLeader(ctx)
		for resp := range cli.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(from)) {
			if err := resp.Err(); err != nil {
				if resp.CompactRevision > 0 {
					from = resp.CompactRevision
				}
				log.Warn("telemetry watch failed; opening it again", "err", err)
				break
			}
			for _, ev := range resp.Events {
				from = ev.Kv.ModRevision + 1
				if ev.Type != clientv3.EventTypePut || strings.HasPrefix(string(ev.Kv.Key), own) {
					continue
				}
				if err := a.ingestFramed(ev.Kv.Value); err != nil {
					log.Warn("ignoring a malformed telemetry batch from another replica", "key", string(ev.Kv.Key), "err", err)
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// ingestFramed ingests every report of a batch written by frame.
func (a *Aggregator) ingestFramed(b []byte) error {
	for len(b) > 0 {
		msg, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return errors.New("truncated batch")
		}
		b = b[n:]
		req := &keywayv1.ReportRequest{}
		if err := proto.Unmarshal(msg, req); err != nil {
			return fmt.Errorf("decode report: %w", err)
		}
		if err := a.ingest(req); err != nil {
			return err
		}
	}
	return nil
}

// frame writes reports one after another, each preceded by its length.
func frame(reports [][]byte) []byte {
	var out []byte
	for _, r := range reports {
		out = protowire.AppendBytes(out, r)
	}
	return out
}

// escapeReplica keeps a replica name (host/addr) one key segment.
func escapeReplica(s string) string { return strings.ReplaceAll(s, "/", "_") }
