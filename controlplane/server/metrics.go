package server

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	"keyway.dev/controlplane/admin"
	"keyway.dev/controlplane/metrics"
	"keyway.dev/controlplane/store"
	"keyway.dev/controlplane/tracing"
	"keyway.dev/controlplane/xds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// The functions below wire metrics.Control into the server where it is
// set, and tracing spans (no-ops until tracing.Setup) always.

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
	return func(ctx context.Context, b *keywayv1.Bundle) (*keywayv1.Policy, error) {
		ctx, span := tracing.Tracer().Start(ctx, "keyway.render", trace.WithAttributes(
			attribute.Int("keyway.bundle.files", len(b.GetFiles())), attribute.String("keyway.bundle.entry", b.GetEntry())))
		defer span.End()
		start := time.Now()
		p, err := r(ctx, b)
		if m != nil {
			m.ObserveRender(time.Since(start), err)
		}
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "render failed")
		} else {
			span.SetAttributes(attribute.Int("keyway.domains", len(p.GetDomains())))
		}
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
		// A root span: the activation reached this replica through etcd,
		// not through a call it could carry a trace context on.
		_, span := tracing.Tracer().Start(ctx, "keyway.publish", trace.WithNewRoot(),
			trace.WithAttributes(attribute.Int64("keyway.version", int64(v.GetVersion()))))
		start := time.Now()
		fn(v)
		if a.m != nil {
			a.m.ObserveActivation(v, time.Since(start))
		}
		span.End()
	})
}

func activeSource(src xds.ActiveSource, m *metrics.Control) xds.ActiveSource {
	return meteredActive{src: src, m: m}
}

func (s *Server) setLeader(leading bool) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.SetLeader(leading)
	}
}
