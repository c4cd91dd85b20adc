package server

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"

	"keyway.dev/controlplane/audit"
	"keyway.dev/controlplane/flags"
	"keyway.dev/controlplane/rollout"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// operations are the parts that change the fleet without a push: flags,
// rollouts and their controller, and the audit log.
type operations struct {
	flags    *flags.Store
	rollouts *rollout.Store
	audit    *audit.Log
}

// registerOperations adds FlagService, RolloutService and AuditService.
func (s *Server) registerOperations(log *audit.Log) {
	s.ops = operations{
		flags:    flags.NewStore(s.store.Client(), s.cfg.Fleet),
		rollouts: rollout.NewStore(s.store.Client(), s.cfg.Fleet),
		audit:    log,
	}
	flags.NewService(s.ops.flags, log, func(ctx context.Context) ([]string, error) {
		ptr, err := s.store.Pointers(ctx)
		if err != nil || ptr.Active == 0 {
			return nil, err
		}
		v, err := s.store.Get(ctx, ptr.Active)
		if err != nil {
			return nil, err
		}
		ds := []string{}
		for _, d := range v.GetRendered().GetDomains() {
			ds = append(ds, d.GetName())
		}
		slices.Sort(ds)
		return ds, nil
	}).Register(s.gs)
	rollout.NewService(s.ops.rollouts, s.store, log).Register(s.gs)
	if m := s.cfg.Metrics; m != nil {
		m.WatchRollouts(func(ctx context.Context) ([]*keywayv1.Rollout, error) {
			st, _, err := s.ops.rollouts.State(ctx)
			return st.Latest, err
		})
	}
	audit.NewService(log).Register(s.gs)
}

// runOperations starts, until ctx ends, what every replica runs (the flag
// and rollout watches that feed its publisher) and the election whose
// winner drives rollouts. The returned func waits for all of it to stop.
func (s *Server) runOperations(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	pub := s.xds.Publisher()
	wg.Go(func() {
		_ = s.ops.flags.Watch(ctx, func(fs []*keywayv1.Flag) {
			if err := pub.SetFlags(ctx, fs); err != nil && ctx.Err() == nil {
				s.log.Error("cannot publish flags; proxies keep the last good ones", "err", err)
			}
		})
	})
	wg.Go(func() {
		_ = s.ops.rollouts.Publish(ctx, s.store, pub, func(err error) {
			s.log.Error("cannot publish rollouts; proxies keep the last good state", "err", err)
		})
	})
	id := s.replicaID()
	// Only replicas on an external etcd have others to share with: nothing
	// outside this process reaches an embedded one.
	if share := s.cfg.ShareTelemetry; share != nil && len(s.cfg.EtcdEndpoints) > 0 {
		wg.Go(func() {
			if err := share(ctx, s.store.Client(), s.cfg.Fleet, id); err != nil && ctx.Err() == nil {
				s.log.Error("telemetry sharing between replicas stopped", "err", err)
			}
		})
	}
	ctl := rollout.NewController(s.ops.rollouts, s.cfg.Guards, rollout.Options{Audit: s.ops.audit, Logger: s.log})
	elector := rollout.NewElector(s.store.Client(), s.cfg.Fleet, id, 0)
	wg.Go(func() {
		_ = elector.Run(ctx, func(lctx context.Context) {
			s.log.Info("driving rollouts", "replica", id)
			s.setLeader(true)
			_ = ctl.Run(lctx)
			s.setLeader(false)
			s.log.Info("no longer driving rollouts", "replica", id)
		}, func(err error) {
			s.log.Warn("rollout leader election", "err", err)
		})
	})
	return wg.Wait
}

// replicaID is Config.ReplicaID or, when empty, hostname and listen
// address: unique among replicas without configuration.
func (s *Server) replicaID() string {
	if s.cfg.ReplicaID != "" {
		return s.cfg.ReplicaID
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%s", host, s.lis.Addr())
}
