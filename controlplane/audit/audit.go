// Package audit records who did what to the fleet, and when: pushes,
// activations, flag changes and rollout actions, kept in etcd under the
// fleet's prefix so every control-plane replica sees one log.
package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keyway.dev/controlplane/auth"
	"keyway.dev/controlplane/etcdkeys"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// DefaultLimit is how many events List returns when asked for 0.
const DefaultLimit = 100

// Actions recorded by the control plane.
const (
	PolicyPush      = "policy.push"
	PolicyActivate  = "policy.activate"
	FlagSet         = "flag.set"
	FlagDelete      = "flag.delete"
	RolloutStart    = "rollout.start"
	RolloutAdvance  = "rollout.advance"
	RolloutPause    = "rollout.pause"
	RolloutResume   = "rollout.resume"
	RolloutPromote  = "rollout.promote"
	RolloutAbort    = "rollout.abort"
	RolloutComplete = "rollout.complete"
)

// Event is one action to record.
type Event struct {
	Who    string
	Action string
	Target string
	Detail string
}

// Recorder is what components that act on the fleet record to; *Log is
// one, tests use fakes.
type Recorder interface {
	Record(ctx context.Context, e Event) error
}

// Log is the fleet's audit log in etcd. It is safe for concurrent use.
type Log struct {
	cli    *clientv3.Client
	prefix string
	now    func() time.Time
}

var _ Recorder = (*Log)(nil)

// New returns the audit log of fleet ("" is store.DefaultFleet) in cli.
func New(cli *clientv3.Client, fleet string) *Log {
	return &Log{cli: cli, prefix: etcdkeys.For(fleet).Audit(), now: time.Now}
}

// Record stores e stamped with the current time. Keys start with the
// time in nanoseconds, zero-padded, so etcd's key order is time order; a
// random suffix keeps two events in the same nanosecond apart.
//
// When the call was authenticated, the authenticated identity is who made
// the change; the name the caller claimed is kept beside it, so the trail
// cannot be forged by typing another author.
func (l *Log) Record(ctx context.Context, e Event) error {
	if id := auth.Identity(ctx); id != "" {
		if e.Who != "" && e.Who != id {
			e.Who = id + " (as " + e.Who + ")"
		} else {
			e.Who = id
		}
	}
	if e.Who == "" {
		e.Who = "unknown"
	}
	now := l.now().UTC()
	ev := &keywayv1.AuditEvent{Time: timestamppb.New(now), Who: e.Who, Action: e.Action, Target: e.Target, Detail: e.Detail}
	val, err := proto.Marshal(ev)
	if err != nil {
		return fmt.Errorf("marshal audit event: %w", err)
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	key := fmt.Sprintf("%s%020d-%s", l.prefix, now.UnixNano(), hex.EncodeToString(suffix[:]))
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := l.cli.Put(ctx, key, string(val)); err != nil {
		return fmt.Errorf("record audit event %s %s: %w", e.Action, e.Target, err)
	}
	return nil
}

// List returns up to limit events (0 is DefaultLimit), newest first.
func (l *Log) List(ctx context.Context, limit int) ([]*keywayv1.AuditEvent, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := l.cli.Get(ctx, l.prefix, clientv3.WithPrefix(),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	out := make([]*keywayv1.AuditEvent, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		ev := &keywayv1.AuditEvent{}
		if err := proto.Unmarshal(kv.Value, ev); err != nil {
			return nil, fmt.Errorf("decode audit event %s: %w", kv.Key, err)
		}
		out = append(out, ev)
	}
	return out, nil
}
