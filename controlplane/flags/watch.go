package flags

import (
	"context"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"keyway.dev/proto/backoff"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Watch calls fn with every flag of the fleet, then again after each
// change, until ctx ends; it returns ctx's error. fn runs on the caller's
// goroutine, one call at a time.
//
// It lists, then watches from the list's revision + 1 so no change in
// between is missed; any event triggers a fresh list (flags are few), and
// a failed watch (compaction, etcd down) a re-list after a pause.
func (s *Store) Watch(ctx context.Context, fn func([]*keywayv1.Flag)) error {
	pause := backoff.Retrier{Exponential: backoff.Exponential{Min: 50 * time.Millisecond, Max: 2 * time.Second}}
	for ctx.Err() == nil {
		rev, err := s.publish(ctx, fn)
		if err != nil {
			pause.Wait(ctx)
			continue
		}
		pause.Reset()
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		for wr := range s.cli.Watch(wctx, s.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
			if wr.Err() != nil {
				break
			}
			// Any change re-lists; the watch itself goes on from where it is.
			if _, err = s.publish(ctx, fn); err != nil {
				break
			}
		}
		cancel()
		pause.Wait(ctx)
	}
	return ctx.Err()
}

// publish lists the flags, hands them to fn and returns the list's
// revision.
func (s *Store) publish(ctx context.Context, fn func([]*keywayv1.Flag)) (int64, error) {
	recs, rev, err := s.list(ctx, "")
	if err != nil {
		return 0, err
	}
	out := make([]*keywayv1.Flag, len(recs))
	for i, r := range recs {
		out[i] = r.GetFlag()
	}
	fn(out)
	return rev, nil
}
