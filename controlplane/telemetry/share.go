package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"keyway.dev/controlplane/etcdkeys"
	"keyway.dev/proto/backoff"
)

// Sharing between control-plane replicas. A proxy reports to the replica
// its connection landed on, behind whatever balancer fronts them; the
// rollout leader's guards and `keyway top` on any replica must still see
// the whole fleet. Each replica therefore writes, every ShareOptions.Interval
// in which its proxies reported, one slot (slot.go) of what they reported
// under a key of its own in etcd:
//
//	/keyway/<fleet>/telemetry/replicas/<replica>/<run>/<end, ns since 1970>
//
// where run tells this run of the replica from its earlier ones, whose
// slots it reads like any other replica's: its aggregator starts empty.
//
// All of a replica's slots hang on one lease that the replica renews as it
// writes, and the replica deletes its slots once they are older than the
// longest window. So a replica keeps at most one key per interval of the
// last five minutes, and when it stops (crash, partition, shutdown) its
// slots leave etcd, and every replica's figures, within ShareOptions.TTL.
//
// Every replica lists and then watches the others' slots and answers its
// queries (Top, TopSince, NodeStats) from its own proxies' reports plus
// those slots. A replica writes only what its own proxies sent, so nothing
// is counted twice, and one that starts sees the others' last five minutes
// at once. Another replica's traffic shows up at most one interval late.

// ShareOptions tune Share. Zero values take the defaults.
type ShareOptions struct {
	// Interval is how often a slot is written; default 5s.
	Interval time.Duration
	// TTL is how long a replica's slots outlive its last write; default
	// 30s, at least two intervals; whole seconds (etcd leases).
	TTL time.Duration
	// Logger receives errors; nil discards them.
	Logger *slog.Logger
}

// Share runs until ctx ends: it writes what this replica's proxies report
// for the other replicas of fleet, and counts theirs in this aggregator's
// answers. replica names this replica and must differ between replicas.
// It returns an error only if it cannot start.
func (a *Aggregator) Share(ctx context.Context, cli *clientv3.Client, fleet, replica string, opts ShareOptions) error {
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Second
	}
	if opts.TTL <= 0 {
		opts.TTL = 30 * time.Second
	}
	opts.TTL = max(opts.TTL, 2*opts.Interval)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if replica == "" {
		return errors.New("share telemetry: the replica has no name")
	}
	keys := etcdkeys.For(fleet)
	prefix := keys.TelemetryReplicas()
	own := keys.TelemetryRun(replica, time.Now().UnixNano())

	a.mu.Lock()
	if a.pending != nil {
		a.mu.Unlock()
		return errors.New("share telemetry: already sharing")
	}
	a.pending = newSlotAcc()
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.pending, a.remote = nil, nil
		a.mu.Unlock()
	}()

	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { a.receive(ctx, cli, prefix, own, opts.Logger) })

	p := &publisher{cli: cli, own: own, ttl: int64((opts.TTL + time.Second - 1) / time.Second), log: opts.Logger}
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		a.mu.Lock()
		acc := a.pending
		a.pending = newSlotAcc()
		now := a.now()
		a.mu.Unlock()
		if !acc.empty() {
			p.add(acc, now)
		}
		wctx, wcancel := context.WithTimeout(ctx, writeTimeout)
		err := p.write(wctx, now)
		wcancel()
		if err != nil && ctx.Err() == nil {
			// The slots stay queued and go out on the next write that
			// succeeds, if still within the longest window.
			opts.Logger.Warn("cannot share telemetry with the other replicas", "err", err)
		}
	}
}

// writeTimeout bounds one round of writes, so an unreachable etcd does
// not hold up the slots that follow.
const writeTimeout = 10 * time.Second

// publisher writes one replica's slots.
type publisher struct {
	cli   *clientv3.Client
	own   string
	ttl   int64
	log   *slog.Logger
	lease clientv3.LeaseID
	// slots are this replica's slots of the longest window, oldest first.
	slots []ownSlot
}

type ownSlot struct {
	key     string
	end     time.Time
	val     []byte
	written bool
}

// add queues acc as a slot ending at now.
func (p *publisher) add(acc *slotAcc, now time.Time) {
	val, collapsed, err := acc.encode(now)
	if err != nil {
		p.log.Error("cannot share a telemetry slot with the other replicas", "err", err)
		return
	}
	if collapsed {
		p.log.Warn("telemetry slot too large; the other replicas get per-track totals without commands and hot keys", "limit_bytes", maxSlotBytes)
	}
	p.slots = append(p.slots, ownSlot{key: fmt.Sprintf("%s%020d", p.own, now.UnixNano()), end: now, val: val})
}

// write renews the lease (a new one if it expired, rewriting every slot
// the old one took along), writes the slots not written yet and deletes
// those past the longest window.
func (p *publisher) write(ctx context.Context, now time.Time) error {
	cutoff := now.Add(-retention)
	var expired []clientv3.Op
	keep := p.slots[:0]
	for _, s := range p.slots {
		switch {
		case s.end.After(cutoff):
			keep = append(keep, s)
		case s.written:
			expired = append(expired, clientv3.OpDelete(s.key))
		}
	}
	clear(p.slots[len(keep):])
	p.slots = keep

	if p.lease != 0 {
		if _, err := p.cli.KeepAliveOnce(ctx, p.lease); err != nil {
			if !errors.Is(err, rpctypes.ErrLeaseNotFound) {
				return fmt.Errorf("renew telemetry lease: %w", err)
			}
			// etcd removed the slots with the lease; write them again.
			p.lease, expired = 0, nil
			for i := range p.slots {
				p.slots[i].written = false
			}
		}
	}
	if p.lease == 0 {
		if !p.unwritten() {
			return nil // nothing to write, no lease needed yet
		}
		g, err := p.cli.Grant(ctx, p.ttl)
		if err != nil {
			return fmt.Errorf("grant telemetry lease: %w", err)
		}
		p.lease = g.ID
	}
	// The deletes ride along with the first put, so a steady replica
	// costs etcd one revision per interval.
	for i := range p.slots {
		s := &p.slots[i]
		if s.written {
			continue
		}
		ops := append(expired, clientv3.OpPut(s.key, string(s.val), clientv3.WithLease(p.lease)))
		if _, err := p.cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			return fmt.Errorf("write telemetry slot: %w", err)
		}
		s.written, expired = true, nil
	}
	if len(expired) > 0 {
		if _, err := p.cli.Txn(ctx).Then(expired...).Commit(); err != nil {
			return fmt.Errorf("delete old telemetry slots: %w", err)
		}
	}
	return nil
}

func (p *publisher) unwritten() bool {
	for _, s := range p.slots {
		if !s.written {
			return true
		}
	}
	return false
}

// receive keeps the other replicas' slots in a.remote until ctx ends: it
// lists them, then watches from the list's revision, and lists again
// whenever the watch fails (compaction, lost leader, etcd down).
func (a *Aggregator) receive(ctx context.Context, cli *clientv3.Client, prefix, own string, log *slog.Logger) {
	pause := backoff.Retrier{Exponential: backoff.Exponential{Min: 50 * time.Millisecond, Max: 2 * time.Second}}
	for ctx.Err() == nil {
		rev, err := a.list(ctx, cli, prefix, own, log)
		if err == nil {
			pause.Reset()
			a.watch(ctx, cli, prefix, own, rev, log)
		} else if ctx.Err() == nil {
			log.Warn("cannot read the other replicas' telemetry; retrying", "err", err)
		}
		pause.Wait(ctx)
	}
}

// list replaces the other replicas' slots with etcd's and returns the
// revision it read at.
func (a *Aggregator) list(ctx context.Context, cli *clientv3.Client, prefix, own string, log *slog.Logger) (int64, error) {
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("list telemetry slots: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.remote = map[string]*node{}
	for _, kv := range resp.Kvs {
		a.putSlotLocked(prefix, own, string(kv.Key), kv.Value, log)
	}
	return resp.Header.Revision, nil
}

// watch applies changes to the slots after rev until the watch fails or
// ctx ends.
func (a *Aggregator) watch(ctx context.Context, cli *clientv3.Client, prefix, own string, rev int64, log *slog.Logger) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for wr := range cli.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
		if err := wr.Err(); err != nil {
			if ctx.Err() == nil {
				log.Warn("telemetry watch failed; listing again", "err", err)
			}
			return
		}
		a.mu.Lock()
		for _, ev := range wr.Events {
			key := string(ev.Kv.Key)
			if ev.Type == clientv3.EventTypeDelete {
				a.deleteSlotLocked(prefix, key)
				continue
			}
			a.putSlotLocked(prefix, own, key, ev.Kv.Value, log)
		}
		a.mu.Unlock()
	}
}

// replicaOf is the replica and run of a slot's key.
func replicaOf(prefix, key string) string {
	k := strings.TrimPrefix(key, prefix)
	if i := strings.LastIndexByte(k, '/'); i >= 0 {
		return k[:i]
	}
	return k
}

func (a *Aggregator) putSlotLocked(prefix, own, key string, val []byte, log *slog.Logger) {
	if strings.HasPrefix(key, own) || a.remote == nil {
		return // our own slots: we count our proxies' reports directly
	}
	a.deleteSlotLocked(prefix, key)
	r, err := decodeSlot(key, val)
	if err != nil {
		log.Warn("ignoring a malformed telemetry slot", "key", key, "err", err)
		return
	}
	id := replicaOf(prefix, key)
	n := a.remote[id]
	if n == nil {
		n = &node{}
		a.remote[id] = n
	}
	// Slots arrive oldest first; keep them so should one come late.
	i := len(n.reports)
	for i > 0 && n.reports[i-1].at.After(r.at) {
		i--
	}
	n.reports = append(n.reports[:i], append([]report{r}, n.reports[i:]...)...)
}

func (a *Aggregator) deleteSlotLocked(prefix, key string) {
	id := replicaOf(prefix, key)
	n := a.remote[id]
	if n == nil {
		return
	}
	n.reports = slices.DeleteFunc(n.reports, func(r report) bool { return r.key == key })
	if len(n.reports) == 0 {
		delete(a.remote, id)
	}
}
