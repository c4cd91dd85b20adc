package store

import (
	"context"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"keyway.dev/proto/backoff"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// WatchActive calls fn with the active version, then again each time the
// active pointer moves to another version, until ctx ends; it returns
// ctx's error. fn runs on the caller's goroutine, one call at a time, and
// is not called while the fleet has no active version.
//
// It lists, then watches from the list's revision + 1 so no change between
// the two is missed, and lists again whenever the watch fails (compaction,
// lost leader, etcd down), retrying with backoff.
func (s *Store) WatchActive(ctx context.Context, fn func(*keywayv1.PolicyVersion)) error {
	var last uint64
	deliver := func(v uint64) error {
		if v == 0 || v == last {
			return nil
		}
		rec, err := s.Get(ctx, v)
		if err != nil {
			return err
		}
		last = v
		fn(rec)
		return nil
	}
	pause := backoff.Retrier{Exponential: backoff.Exponential{Min: 50 * time.Millisecond, Max: 2 * time.Second}}
	for ctx.Err() == nil {
		rev, err := s.listActive(ctx, deliver)
		if err != nil {
			pause.Wait(ctx)
			continue
		}
		pause.Reset()
		s.watchActive(ctx, rev, deliver)
		// The watch ended: re-list, after a pause in case etcd is down.
		pause.Wait(ctx)
	}
	return ctx.Err()
}

// listActive reads the active pointer, delivers it and returns the etcd
// revision of the read.
func (s *Store) listActive(ctx context.Context, deliver func(uint64) error) (int64, error) {
	octx, cancel := s.op(ctx)
	resp, err := s.cli.Get(octx, s.keys.Active())
	cancel()
	if err != nil {
		return 0, unavailable(ctx, "read active pointer", err)
	}
	v, err := pointerValue((*etcdserverpb.RangeResponse)(resp))
	if err != nil {
		return 0, err
	}
	if err := deliver(v); err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}

// watchActive delivers every change of the active pointer after rev until
// the watch fails or ctx ends.
func (s *Store) watchActive(ctx context.Context, rev int64, deliver func(uint64) error) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for wr := range s.cli.Watch(wctx, s.keys.Active(), clientv3.WithRev(rev+1)) {
		if wr.Err() != nil {
			return
		}
		for _, ev := range wr.Events {
			if ev.Type != clientv3.EventTypePut {
				continue
			}
			v, err := parseVersion(ev.Kv.Value)
			if err != nil {
				continue
			}
			if err := deliver(v); err != nil {
				return
			}
		}
	}
}
