package xds

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/log"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
)

// nodeHash is the one cache key: every proxy of a fleet gets the same
// snapshot (rollouts pick trees per connection inside the proxy).
const nodeHash = "keyway"

type fleetHash struct{}

func (fleetHash) ID(*core.Node) string { return nodeHash }

// Server is the ADS endpoint with its snapshot cache, tracker and
// publisher.
type Server struct {
	tracker   *Tracker
	publisher *Publisher
	ads       serverv3.Server
}

// Options configure a Server.
type Options struct {
	// Sink receives status changes; nil keeps them in memory only.
	Sink StatusSink
	// Logger receives go-control-plane's logs at debug level.
	Logger *slog.Logger
	// ForgetAfter is how long a node stays in the fleet view after its
	// last stream ended; zero means DefaultForgetAfter.
	ForgetAfter time.Duration
}

// New returns a Server whose streams end when ctx does, and which forgets
// nodes gone for o.ForgetAfter until then.
func New(ctx context.Context, o Options) *Server {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tracker := NewTracker(o.Sink)
	if o.ForgetAfter > 0 {
		tracker.forgetAfter = o.ForgetAfter
	}
	go tracker.expire(ctx)
	cache := newFleetCache(cachev3.NewSnapshotCache(false, fleetHash{}, slogAdapter(logger)), tracker)
	return &Server{
		tracker:   tracker,
		publisher: &Publisher{cache: cache},
		ads:       serverv3.NewServer(ctx, cache, tracker),
	}
}

// Register adds the ADS service to gs.
func (s *Server) Register(gs *grpc.Server) {
	discovery.RegisterAggregatedDiscoveryServiceServer(gs, s.ads)
}

// Tracker returns the per-node state kept from the streams.
func (s *Server) Tracker() *Tracker { return s.tracker }

// Publisher returns what installs new snapshots.
func (s *Server) Publisher() *Publisher { return s.publisher }

func slogAdapter(l *slog.Logger) log.Logger {
	logf := func(level slog.Level) func(string, ...any) {
		return func(format string, args ...any) {
			if l.Enabled(context.Background(), level) {
				l.Log(context.Background(), level, "xds: "+fmt.Sprintf(format, args...))
			}
		}
	}
	// go-control-plane's Info and Warn lines are routine (stale nonces,
	// closed watches); they are debug detail for an operator.
	return log.LoggerFuncs{
		DebugFunc: logf(slog.LevelDebug),
		InfoFunc:  logf(slog.LevelDebug),
		WarnFunc:  logf(slog.LevelDebug),
		ErrorFunc: logf(slog.LevelWarn),
	}
}
