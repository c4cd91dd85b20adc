package rollout

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"keyway.dev/controlplane/xds"
	"keyway.dev/proto/backoff"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Versions reads stored policy versions; *store.Store is one.
type Versions interface {
	Get(ctx context.Context, v uint64) (*keywayv1.PolicyVersion, error)
}

// Publisher receives what proxies must run; *xds.Publisher is one.
type Publisher interface {
	SetRollouts(ctx context.Context, rs []xds.Rollout) error
	SetPins(ctx context.Context, pins []xds.Pin) error
}

// Publish keeps pub in step with the rollouts and pins in etcd until ctx
// ends, on every replica (not only the leader), since each serves its own
// proxies. It lists, then watches from the list's revision + 1; any
// change triggers a fresh list. onErr, if set, hears failures, after
// which it lists again.
func (s *Store) Publish(ctx context.Context, versions Versions, pub Publisher, onErr func(error)) error {
	cache := map[uint64]*keywayv1.PolicyVersion{} // versions are immutable
	pause := backoff.Retrier{Exponential: backoff.Exponential{Min: 50 * time.Millisecond, Max: 2 * time.Second}}
	fail := func(err error) {
		if onErr != nil && ctx.Err() == nil {
			onErr(err)
		}
		pause.Wait(ctx)
	}
	report := func(rev int64, err error) (int64, error) {
		var pe *PublishError
		if errors.As(err, &pe) {
			if onErr != nil {
				onErr(err)
			}
			return rev, nil
		}
		return rev, err
	}
	for ctx.Err() == nil {
		rev, err := report(s.publish(ctx, versions, pub, cache))
		if err != nil {
			fail(err)
			continue
		}
		pause.Reset()
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		for wr := range s.cli.Watch(wctx, s.keys.Domains(), clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
			if wr.Err() != nil {
				break
			}
			if _, err = report(s.publish(ctx, versions, pub, cache)); err != nil {
				break
			}
		}
		cancel()
		if err != nil {
			fail(err)
		}
	}
	return ctx.Err()
}

// publish hands pub the current pins, then the unfinished rollouts: when
// a rollout completes, its pin is in place before its canary tree goes.
func (s *Store) publish(ctx context.Context, versions Versions, pub Publisher, cache map[uint64]*keywayv1.PolicyVersion) (int64, error) {
	st, rev, err := s.State(ctx)
	if err != nil {
		return 0, err
	}
	get := func(v uint64) (*keywayv1.PolicyVersion, error) {
		if pv, ok := cache[v]; ok {
			return pv, nil
		}
		pv, err := versions.Get(ctx, v)
		if err != nil {
			return nil, fmt.Errorf("read v%d: %w", v, err)
		}
		cache[v] = pv
		return pv, nil
	}
	pins := make([]xds.Pin, 0, len(st.Pins))
	for _, p := range st.Pins {
		pv, err := get(p.GetVersion())
		if err != nil {
			return 0, fmt.Errorf("pin of %s: %w", p.GetDomain(), err)
		}
		pins = append(pins, xds.Pin{Domain: p.GetDomain(), Version: pv, Base: p.GetBaseVersion()})
	}
	var rs []xds.Rollout
	for _, r := range st.Unfinished() {
		pv, err := get(r.GetToVersion())
		if err != nil {
			return 0, fmt.Errorf("rollout %s: %w", r.GetId(), err)
		}
		rs = append(rs, xds.Rollout{ID: r.GetId(), Domain: r.GetDomain(), Canary: pv, Percent: r.GetPercent()})
	}
	// A publisher error (an input that cannot be assembled) is reported
	// but does not stop the watch: the next change may fix it.
	errPins := pub.SetPins(ctx, pins)
	errRollouts := pub.SetRollouts(ctx, rs)
	if err := errors.Join(errPins, errRollouts); err != nil && ctx.Err() == nil {
		return rev, &PublishError{Err: err}
	}
	return rev, nil
}

// PublishError is a state the publisher refused to assemble.
type PublishError struct{ Err error }

func (e *PublishError) Error() string { return "publish rollouts: " + e.Err.Error() }

// Unwrap returns the publisher's error.
func (e *PublishError) Unwrap() error { return e.Err }
