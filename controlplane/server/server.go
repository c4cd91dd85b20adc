// Package server wires keyway-control together: the etcd store, the xDS
// publisher and ADS endpoint, and the admin API, all on one gRPC port.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"keyway.dev/controlplane/admin"
	"keyway.dev/controlplane/audit"
	"keyway.dev/controlplane/auth"
	"keyway.dev/controlplane/metrics"
	"keyway.dev/controlplane/rollout"
	"keyway.dev/controlplane/store"
	"keyway.dev/controlplane/tracing"
	"keyway.dev/controlplane/xds"
	"keyway.dev/policy/render"
	"keyway.dev/proto/buildinfo"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Config is keyway-control's configuration.
type Config struct {
	// Listen is the gRPC address for ADS, admin and telemetry.
	Listen string
	// DataDir holds the embedded etcd's data; unused with EtcdEndpoints.
	DataDir string
	// EtcdEndpoints selects an external etcd cluster instead of embedding.
	EtcdEndpoints []string
	// EtcdTLS, EtcdUsername and EtcdPassword secure the connection to an
	// external etcd (store.Config).
	EtcdTLS                    *tls.Config
	EtcdUsername, EtcdPassword string
	// EtcdStartWait is how long to keep trying an external etcd that
	// does not answer at start (store.Config.StartWait).
	EtcdStartWait time.Duration
	// Fleet namespaces the keys in etcd; empty is store.DefaultFleet.
	Fleet string
	// Render renders pushed bundles; nil means render.Render with its
	// default limits.
	Render admin.Renderer
	// Tests runs a pushed bundle's test cases before it is stored; nil
	// refuses pushes that have cases (keyway-control always sets it).
	Tests admin.TestRunner
	// Services registers further gRPC services (telemetry, rollouts) on
	// the same server.
	Services []func(grpc.ServiceRegistrar)
	// ShutdownGrace bounds the graceful stop; zero means 5s.
	ShutdownGrace time.Duration
	Logger        *slog.Logger
	// Guards is the telemetry rollout guards read; nil means none, and a
	// rollout then never sees canary traffic, so it waits at its first
	// step until promoted or aborted.
	Guards rollout.Telemetry
	// ReplicaID names this replica in the rollout-leader election;
	// empty means hostname and listen address.
	ReplicaID string
	// NodeStats fills keyway fleet's per-node QPS and connections from
	// telemetry; nil leaves them zero.
	NodeStats admin.NodeStats
	// NodeDomains answers keyway fleet --domain from telemetry; nil lets
	// no node through that filter.
	NodeDomains admin.NodeDomains
	// ShareTelemetry, when set and the store is an external etcd, runs
	// for as long as the server does and shares what this replica's
	// proxies report with the other replicas of the fleet, and theirs with
	// this one (telemetry.Aggregator.Share), so the rollout leader's
	// guards and `keyway top` see proxies connected to any replica.
	ShareTelemetry func(ctx context.Context, cli *clientv3.Client, fleet, replica string) error
	// TLS, when set, serves every gRPC service over TLS. When it has
	// ClientCAs, proxies must present a certificate naming their node
	// (see auth.Config.NodeCerts).
	TLS *tls.Config
	// Auth says when admin callers must authenticate; the zero value,
	// auth.Auto, enforces once the fleet has a token or CertRoles is set.
	Auth auth.Mode
	// CertRoles maps client certificate common names to admin roles.
	CertRoles map[string]auth.Role
	// BootstrapTokenFile, when set, receives a new admin token's secret
	// on a start that finds no token in the fleet.
	BootstrapTokenFile string
	// Metrics, when set, records what the server does (metrics.Control);
	// serving it over HTTP is the caller's.
	Metrics *metrics.Control
	// ForgetNodesAfter is how long a proxy stays in the fleet view (and
	// in memory) after its last stream ended; zero means
	// xds.DefaultForgetAfter, an hour.
	ForgetNodesAfter time.Duration
	// Keepalive is how the server checks that a proxy at the other end of
	// a stream is still there; the zero value means DefaultKeepalive.
	Keepalive keepalive.ServerParameters
}

// DefaultKeepalive pings a client after 30s without a frame from it and
// closes the connection 10s later, so a proxy that vanished without a FIN
// or RST (a host that died, a dropped NAT flow) shows as disconnected in
// `keyway fleet` within 40s instead of the kernel's hours. Proxies ping
// every 15s themselves (xdsclient.DefaultKeepalive), which keeps the
// server's own pings rare.
var DefaultKeepalive = keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}

// keepaliveEnforcement allows clients to ping every 5s, with or without
// an RPC open; gRPC's default (5 minutes) would answer the proxies' 15s
// pings with GOAWAY "too_many_pings" and break the connection it checks.
var keepaliveEnforcement = keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}

// Server is a running control plane. Create it with New, then Run it.
type Server struct {
	cfg    Config
	log    *slog.Logger
	store  *store.Store
	xds    *xds.Server
	gs     *grpc.Server
	health *health.Server
	lis    net.Listener
	// stopXDS ends every ADS stream, which GracefulStop would otherwise
	// wait on forever.
	stopXDS context.CancelFunc
	ops     operations
}

// New opens the store and the listener; nothing is served until Run.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Render == nil {
		cfg.Render = func(ctx context.Context, b *keywayv1.Bundle) (*keywayv1.Policy, error) {
			return render.Render(ctx, b, render.Options{})
		}
	}
	if cfg.ShutdownGrace == 0 {
		cfg.ShutdownGrace = 5 * time.Second
	}
	if cfg.Keepalive == (keepalive.ServerParameters{}) {
		cfg.Keepalive = DefaultKeepalive
	}
	st, err := store.Open(store.Config{
		DataDir: cfg.DataDir, Endpoints: cfg.EtcdEndpoints, Fleet: cfg.Fleet,
		TLS: cfg.EtcdTLS, Username: cfg.EtcdUsername, Password: cfg.EtcdPassword,
		DialOptions: etcdDialOptions(cfg.Metrics),
		StartWait:   cfg.EtcdStartWait, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	xctx, stopXDS := context.WithCancel(context.Background())
	auditLog := audit.New(st.Client(), cfg.Fleet)
	tokens := auth.NewTokens(st.Client(), cfg.Fleet)
	if cfg.BootstrapTokenFile != "" {
		created, err := auth.Bootstrap(context.Background(), tokens, cfg.BootstrapTokenFile)
		if err != nil {
			stopXDS()
			lis.Close()
			st.Close()
			return nil, err
		}
		if created {
			cfg.Logger.Info("wrote a bootstrap admin token", "file", cfg.BootstrapTokenFile)
		}
	}
	authz := auth.New(auth.Config{
		Mode:      cfg.Auth,
		Tokens:    tokens,
		CertRoles: cfg.CertRoles,
		NodeCerts: cfg.TLS != nil && cfg.TLS.ClientCAs != nil,
	})
	// Authorization runs first so the audit interceptor sees the caller.
	grpcOpts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(append(unaryMetrics(cfg.Metrics), authz.Unary(), audit.Interceptor(auditLog, cfg.Logger))...),
		grpc.ChainStreamInterceptor(authz.Stream()),
		grpc.KeepaliveParams(cfg.Keepalive),
		grpc.KeepaliveEnforcementPolicy(keepaliveEnforcement),
		tracing.ServerOption(),
	}
	if cfg.TLS != nil {
		grpcOpts = append(grpcOpts, grpc.Creds(credentials.NewTLS(cfg.TLS)))
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		store:   st,
		xds:     xds.New(xctx, xds.Options{Sink: statusSink(st, cfg.Metrics), Logger: cfg.Logger, ForgetAfter: cfg.ForgetNodesAfter}),
		gs:      grpc.NewServer(grpcOpts...),
		health:  health.NewServer(),
		lis:     lis,
		stopXDS: stopXDS,
	}
	s.xds.Register(s.gs)
	admin.NewPolicy(st, timedRender(cfg.Render, cfg.Metrics), s.xds.Publisher(), cfg.Logger).WithTests(cfg.Tests).Register(s.gs)
	admin.NewFleet(s.xds.Tracker(), st).WithStats(cfg.NodeStats).WithDomains(cfg.NodeDomains).Register(s.gs)
	s.registerOperations(auditLog)
	admin.NewServerInfo(buildinfo.Get(), s.replicaID()).Register(s.gs)
	admin.NewBackup(st.Client(), cfg.Fleet).Register(s.gs)
	auth.NewService(tokens, func(ctx context.Context, action, target, detail string) {
		ev := audit.Event{Who: auth.Identity(ctx), Action: action, Target: target, Detail: detail}
		if err := auditLog.Record(ctx, ev); err != nil {
			cfg.Logger.Error("cannot record audit event", "action", action, "target", target, "err", err)
		}
	}).Register(s.gs)
	healthpb.RegisterHealthServer(s.gs, s.health)
	for _, register := range cfg.Services {
		register(s.gs)
	}
	return s, nil
}

// Addr is the address the gRPC server listens on.
func (s *Server) Addr() net.Addr { return s.lis.Addr() }

// Close releases what New opened (the listener, the store) for a caller
// that gives up before Run.
func (s *Server) Close() error {
	s.stopXDS()
	s.gs.Stop()
	_ = s.lis.Close()
	if err := s.store.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// Store is the server's store, for services registered alongside.
func (s *Server) Store() *store.Store { return s.store }

// XDS is the server's ADS endpoint, for services that feed the publisher
// (flags, rollouts).
func (s *Server) XDS() *xds.Server { return s.xds }

// Run serves until ctx ends, then stops gracefully: ADS streams are ended,
// admin calls in flight finish (bounded by ShutdownGrace), and the store
// is closed.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	published := make(chan struct{})
	go func() {
		defer close(published)
		_ = s.xds.Publisher().Run(ctx, activeSource(s.store, s.cfg.Metrics), func(err error) {
			s.log.Error("cannot publish the active policy; proxies keep the last good one", "err", err)
		})
	}()

	operated := s.runOperations(ctx)

	served := make(chan error, 1)
	go func() { served <- s.gs.Serve(s.lis) }()
	s.log.Info("keyway-control serving", "addr", s.lis.Addr().String())

	var err error
	select {
	case <-ctx.Done():
	case err = <-served:
		err = fmt.Errorf("grpc server: %w", err)
	}
	cancel()
	s.health.Shutdown()
	s.stopXDS()
	stopped := make(chan struct{})
	go func() {
		s.gs.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(s.cfg.ShutdownGrace):
		s.gs.Stop()
		<-stopped
	}
	<-published
	operated()
	if cerr := s.store.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close store: %w", cerr))
	}
	s.log.Info("keyway-control stopped")
	return err
}
