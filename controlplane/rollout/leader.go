package rollout

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"keyway.dev/controlplane/etcdkeys"
	"keyway.dev/proto/backoff"
)

// DefaultLeaseTTL is how long, in seconds, a dead leader holds the
// election before another replica takes over.
const DefaultLeaseTTL = 5

// Elector runs a function on exactly one of the replicas that share an
// etcd, through an etcd election on /keyway/<fleet>/rollout-leader.
type Elector struct {
	cli *clientv3.Client
	key string
	id  string
	ttl int
}

// NewElector returns an elector for fleet ("" is store.DefaultFleet)
// that campaigns as id with a lease of ttl seconds (0 is
// DefaultLeaseTTL).
func NewElector(cli *clientv3.Client, fleet, id string, ttl int) *Elector {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	return &Elector{cli: cli, key: etcdkeys.For(fleet).RolloutLeader(), id: id, ttl: ttl}
}

// Run campaigns until ctx ends. Each time this replica wins it calls
// lead with a context that ends when leadership is lost (the lease
// expired, etcd unreachable) or ctx ends; then it resigns, so a clean
// shutdown hands over at once, and campaigns again. onErr, if set, hears
// why a term ended or a campaign failed.
func (e *Elector) Run(ctx context.Context, lead func(ctx context.Context), onErr func(error)) error {
	pause := backoff.Retrier{Exponential: backoff.Exponential{Min: 100 * time.Millisecond, Max: 2 * time.Second}}
	for ctx.Err() == nil {
		if err := e.term(ctx, lead); err != nil && ctx.Err() == nil {
			if onErr != nil {
				onErr(err)
			}
			pause.Wait(ctx)
			continue
		}
		pause.Reset()
	}
	return ctx.Err()
}

// term is one campaign and, if it is won, one term of leadership.
func (e *Elector) term(ctx context.Context, lead func(ctx context.Context)) error {
	sess, err := concurrency.NewSession(e.cli, concurrency.WithTTL(e.ttl), concurrency.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("open election session: %w", err)
	}
	defer sess.Close()
	el := concurrency.NewElection(sess, e.key)
	if err := el.Campaign(ctx, e.id); err != nil {
		return fmt.Errorf("campaign for rollout leader: %w", err)
	}
	lctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-sess.Done():
		case <-lctx.Done():
		}
		cancel()
	}()
	lead(lctx)
	cancel()
	rctx, rcancel := context.WithTimeout(context.Background(), time.Second)
	defer rcancel()
	_ = el.Resign(rctx) // the lease's expiry is the fallback
	if ctx.Err() == nil {
		return fmt.Errorf("lost rollout leadership")
	}
	return nil
}
