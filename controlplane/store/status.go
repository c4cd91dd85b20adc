package store

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// RecordStatus queues n (keyed by its id) to be written to etcd. It never
// blocks, so xDS callbacks can call it on the stream goroutine; a newer
// status of the same node replaces one not yet written. n must not be
// modified afterwards.
//
// Queued statuses are written together, at most one batch per
// statusBatchWindow, under this replica's lease, so they vanish when the
// replica stops renewing it. A disconnected node's record is written
// only while the record is still this replica's: a proxy that moved to
// another replica keeps the record that replica wrote.
func (s *Store) RecordStatus(n *keywayv1.Node) { s.status.enqueue(n) }

// ForgetStatus queues the deletion of node id's record, if it is still
// this replica's.
func (s *Store) ForgetStatus(id string) { s.status.forget(id) }

// Statuses returns the fleet status records of every node any live control
// plane replica knows, sorted by node id.
func (s *Store) Statuses(ctx context.Context) ([]*keywayv1.Node, error) {
	octx, cancel := s.op(ctx)
	defer cancel()
	resp, err := s.cli.Get(octx, s.keys.Statuses(), clientv3.WithPrefix())
	if err != nil {
		return nil, unavailable(ctx, "list fleet status", err)
	}
	out := make([]*keywayv1.Node, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		n := &keywayv1.Node{}
		if err := proto.Unmarshal(kv.Value, n); err != nil {
			return nil, fmt.Errorf("decode status %s: %w", kv.Key, err)
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetId() < out[j].GetId() })
	return out, nil
}

// statusBatchWindow is how long status changes gather before they are
// written: a push to N proxies makes about 2N ACKs within it, which then
// cost N puts in N/100 transactions instead of 2N of each.
const statusBatchWindow = 200 * time.Millisecond

// statusWriter owns the goroutine that writes queued statuses under a
// lease, so they expire when this control plane dies.
type statusWriter struct {
	s   *Store
	ttl time.Duration

	mu sync.Mutex
	// pending is what to write per node id; nil means delete.
	pending map[string]*keywayv1.Node
	latest  map[string]*keywayv1.Node

	kick chan struct{}
	quit chan struct{}
	done chan struct{}

	lease clientv3.LeaseID // owned by the run goroutine
}

func startStatusWriter(s *Store, ttl time.Duration) *statusWriter {
	w := &statusWriter{
		s:       s,
		ttl:     ttl,
		pending: map[string]*keywayv1.Node{},
		latest:  map[string]*keywayv1.Node{},
		kick:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if s.embedded != nil {
		// Nothing outside this process reaches an embedded etcd, so every
		// status record in it is a previous run's. Their lease was
		// renewed when etcd restarted, and they would show that run's
		// proxies as connected for a whole TTL.
		ctx, cancel := s.op(context.Background())
		_, _ = s.cli.Delete(ctx, s.keys.Statuses(), clientv3.WithPrefix()) // best effort: the TTL cleans up otherwise
		cancel()
	}
	go w.run()
	return w
}

func (w *statusWriter) enqueue(n *keywayv1.Node) {
	w.mu.Lock()
	w.pending[n.GetId()] = n
	w.latest[n.GetId()] = n
	w.mu.Unlock()
	w.wake()
}

func (w *statusWriter) forget(id string) {
	w.mu.Lock()
	w.pending[id] = nil
	delete(w.latest, id)
	w.mu.Unlock()
	w.wake()
}

func (w *statusWriter) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// stop ends the goroutine and revokes the lease, deleting this replica's
// status records at once rather than after the TTL.
func (w *statusWriter) stop() {
	close(w.quit)
	<-w.done
	if w.lease != 0 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, _ = w.s.cli.Revoke(ctx, w.lease) // best effort: the TTL cleans up otherwise
	}
}

func (w *statusWriter) run() {
	defer close(w.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-w.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	tick := time.NewTicker(w.ttl / 3)
	defer tick.Stop()
	// window is running while changes gather for the next batch.
	window := time.NewTimer(0)
	<-window.C
	gathering := false
	for {
		select {
		case <-w.quit:
			return
		case <-w.kick:
			if !gathering {
				gathering = true
				window.Reset(statusBatchWindow)
			}
			continue
		case <-window.C:
			gathering = false
		case <-tick.C:
			w.keepAlive(ctx)
		}
		w.flush(ctx)
	}
}

// keepAlive renews the lease; if it is gone (etcd was unreachable for
// longer than the TTL) every known status is queued to be written again
// under a new one.
func (w *statusWriter) keepAlive(ctx context.Context) {
	if w.lease == 0 {
		return
	}
	octx, cancel := w.s.op(ctx)
	defer cancel()
	if _, err := w.s.cli.KeepAliveOnce(octx, w.lease); err == nil {
		return
	}
	w.lease = 0
	w.mu.Lock()
	for id, n := range w.latest {
		if _, queued := w.pending[id]; !queued {
			w.pending[id] = n
		}
	}
	w.mu.Unlock()
}

// flush writes what is pending; on failure it stays queued for the next
// tick.
func (w *statusWriter) flush(ctx context.Context) {
	w.mu.Lock()
	batch := w.pending
	w.pending = map[string]*keywayv1.Node{}
	w.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if err := w.write(ctx, batch); err != nil {
		w.mu.Lock()
		for id, n := range batch {
			if _, newer := w.pending[id]; !newer {
				w.pending[id] = n
			}
		}
		w.mu.Unlock()
	}
}

// statusTxnOps keeps each transaction under etcd's limit of 128
// operations (comparisons count too).
const statusTxnOps = 100

func (w *statusWriter) write(ctx context.Context, batch map[string]*keywayv1.Node) error {
	octx, cancel := w.s.op(ctx)
	defer cancel()
	if w.lease == 0 {
		l, err := w.s.cli.Grant(octx, int64(w.ttl/time.Second)+1)
		if err != nil {
			return fmt.Errorf("grant status lease: %w", err)
		}
		w.lease = l.ID
	}
	// A connected node streams to this replica, so its record is ours to
	// write. A disconnected one may have moved to another replica since,
	// whose record must stand: those writes, and deletions, go only where
	// the record is still under this replica's lease.
	var puts, mine []clientv3.Op
	var mineKeys []string
	for id, n := range batch {
		key := w.s.keys.Status(id)
		if n == nil {
			mine, mineKeys = append(mine, clientv3.OpDelete(key)), append(mineKeys, key)
			continue
		}
		b, err := proto.Marshal(n)
		if err != nil {
			return fmt.Errorf("marshal status of %s: %w", id, err)
		}
		op := clientv3.OpPut(key, string(b), clientv3.WithLease(w.lease))
		if n.GetConnected() {
			puts = append(puts, op)
		} else {
			mine, mineKeys = append(mine, op), append(mineKeys, key)
		}
	}
	for len(puts) > 0 {
		n := min(len(puts), statusTxnOps)
		if _, err := w.s.cli.Txn(octx).Then(puts[:n]...).Commit(); err != nil {
			return fmt.Errorf("write fleet status: %w", err)
		}
		puts = puts[n:]
	}
	for len(mine) > 0 {
		n := min(len(mine), statusTxnOps/2)
		if err := w.writeMine(octx, mineKeys[:n], mine[:n]); err != nil {
			return err
		}
		mine, mineKeys = mine[n:], mineKeys[n:]
	}
	return nil
}

// writeMine applies ops to keys that are all still under this replica's
// lease in one transaction, or else one by one, each only if its key is.
func (w *statusWriter) writeMine(ctx context.Context, keys []string, ops []clientv3.Op) error {
	cmp := func(key string) clientv3.Cmp {
		return clientv3.Compare(clientv3.LeaseValue(key), "=", w.lease)
	}
	cmps := make([]clientv3.Cmp, len(keys))
	for i, k := range keys {
		cmps[i] = cmp(k)
	}
	resp, err := w.s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("write fleet status: %w", err)
	}
	if resp.Succeeded || len(keys) == 1 {
		return nil
	}
	for i, k := range keys {
		if _, err := w.s.cli.Txn(ctx).If(cmp(k)).Then(ops[i]).Commit(); err != nil {
			return fmt.Errorf("write fleet status: %w", err)
		}
	}
	return nil
}
