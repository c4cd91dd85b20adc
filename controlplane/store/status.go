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
func (s *Store) RecordStatus(n *keywayv1.Node) { s.status.enqueue(n) }

// Statuses returns the fleet status records of every node any live control
// plane replica knows, sorted by node id.
func (s *Store) Statuses(ctx context.Context) ([]*keywayv1.Node, error) {
	octx, cancel := s.op(ctx)
	defer cancel()
	resp, err := s.cli.Get(octx, s.keys.status(), clientv3.WithPrefix())
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

// statusWriter owns the goroutine that writes queued statuses under a
// lease, so they expire when this control plane dies.
type statusWriter struct {
	s   *Store
	ttl time.Duration

	mu      sync.Mutex
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
	go w.run()
	return w
}

func (w *statusWriter) enqueue(n *keywayv1.Node) {
	w.mu.Lock()
	w.pending[n.GetId()] = n
	w.latest[n.GetId()] = n
	w.mu.Unlock()
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
	for {
		select {
		case <-w.quit:
			return
		case <-w.kick:
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
		w.pending[id] = n
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
	ops := make([]clientv3.Op, 0, len(batch))
	for id, n := range batch {
		b, err := proto.Marshal(n)
		if err != nil {
			return fmt.Errorf("marshal status of %s: %w", id, err)
		}
		ops = append(ops, clientv3.OpPut(w.s.keys.node(id), string(b), clientv3.WithLease(w.lease)))
	}
	// etcd caps a transaction at 128 operations.
	for len(ops) > 0 {
		n := min(len(ops), 100)
		if _, err := w.s.cli.Txn(octx).Then(ops[:n]...).Commit(); err != nil {
			return fmt.Errorf("write fleet status: %w", err)
		}
		ops = ops[n:]
	}
	return nil
}
