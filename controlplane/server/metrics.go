package server

import (
	"context"
	"time"

	"google.golang.org/grpc"

	"keyway.dev/controlplane/admin"
	"keyway.dev/controlplane/metrics"
	"keyway.dev/controlplane/store"
	"keyway.dev/controlplane/xds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// The functions below wire metrics.Control into the server where it is
// set and change nothing where it is not.

func unaryMetrics(m *metrics.Control) []grpc.UnaryServerInterceptor {
	if m == nil {
		return nil
	}
	return []grpc.UnaryServerInterceptor{m.UnaryServer()}
}

func etcdDialOptions(m *metrics.Control) []grpc.DialOption {
	if m == nil {
		return nil
	}
	return []grpc.DialOption{grpc.WithChainUnaryInterceptor(m.UnaryClient())}
}

func timedRender(r admin.Renderer, m *metrics.Control) admin.Renderer {
	if m == nil {
		return r
	}
	return func(ctx context.Context, b *keywayv1.Bundle) (*keywayv1.Policy, error) {
		start := time.Now()
		p, err := r(ctx, b)
		m.ObserveRender(time.Since(start), err)
		return p, err
	}
}

// meteredSink passes proxies' status to the store and to the metrics.
type meteredSink struct {
	store *store.Store
	m     *metrics.Control
}

func (s meteredSink) RecordStatus(n *keywayv1.Node) {
	s.m.ObserveNode(n)
	s.store.RecordStatus(n)
}

func (s meteredSink) ForgetStatus(id string) {
	s.m.ForgetNode(id)
	s.store.ForgetStatus(id)
}

func statusSink(st *store.Store, m *metrics.Control) xds.StatusSink {
	if m == nil {
		return st
	}
	return meteredSink{store: st, m: m}
}

// meteredActive times the publication of each activation the store
// reports.
type meteredActive struct {
	src xds.ActiveSource
	m   *metrics.Control
}

func (a meteredActive) WatchActive(ctx context.Context, fn func(*keywayv1.PolicyVersion)) error {
	return a.src.WatchActive(ctx, func(v *keywayv1.PolicyVersion) {
		start := time.Now()
		fn(v)
		a.m.ObserveActivation(v, time.Since(start))
	})
}

func activeSource(src xds.ActiveSource, m *metrics.Control) xds.ActiveSource {
	if m == nil {
		return src
	}
	return meteredActive{src: src, m: m}
}

func (s *Server) setLeader(leading bool) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.SetLeader(leading)
	}
}
