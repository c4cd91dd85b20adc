package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/observe"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/telemetry"
	"keyway.dev/dataplane/upstream"
	"keyway.dev/dataplane/xdsclient"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// telemetryConfig is what the telemetry flags set.
type telemetryConfig struct {
	on            bool
	interval      time.Duration
	traceEndpoint string
	traceSample   float64
	traceInsecure bool
	// perCommandHistograms splits the latency histogram by command.
	perCommandHistograms bool
}

// telemetryFlags registers the telemetry flags on fs.
func telemetryFlags(fs *flag.FlagSet, c *telemetryConfig) {
	fs.BoolVar(&c.on, "telemetry", true, "count every command per domain; false keeps /metrics gauges but stops per-command counting (for measuring its cost)")
	fs.DurationVar(&c.interval, "telemetry-interval", 5*time.Second, "how often to report telemetry to the control plane")
	fs.StringVar(&c.traceEndpoint, "trace-endpoint", "", "OTLP/gRPC collector HOST:PORT for sampled per-command traces; empty defers to OTEL_EXPORTER_OTLP_ENDPOINT (and the other OTEL_* variables), and tracing is off when neither is set")
	fs.Float64Var(&c.traceSample, "trace-sample", 0.001, "share of commands traced, in (0, 1]")
	fs.BoolVar(&c.traceInsecure, "trace-insecure", true, "send traces without TLS")
	fs.BoolVar(&c.perCommandHistograms, "metrics-per-command-histograms", false, "split /metrics' latency histogram by command too (per-command counts are always there); multiplies its series by the commands in use")
}

// proxyTelemetry is the proxy's counting, tracing and reporting.
type proxyTelemetry struct {
	rec    *telemetry.Recorder
	tracer *telemetry.Tracer
	obs    observe.Observer
	cfg    telemetryConfig
	node   string
	log    *slog.Logger
	// dial secures the connection to the control plane.
	dial grpc.DialOption
}

// newTelemetry builds the Recorder the server, the reload path and
// /metrics share, with label cardinality bounded by the command table.
func newTelemetry(ctx context.Context, cfg config, pools engine.Upstreams, log *slog.Logger) (*proxyTelemetry, error) {
	t := &proxyTelemetry{cfg: cfg.telemetry, node: cfg.nodeID, log: log}
	if cfg.controlPlane != "" {
		dial, err := controlPlaneCredentials(cfg)
		if err != nil {
			return nil, err
		}
		t.dial = dial
	}
	t.rec = telemetry.New(telemetry.Options{KnownCommand: knownCommand, PerCommandHistograms: cfg.telemetry.perCommandHistograms})
	if p, ok := pools.(interface{ Stats() []upstream.NodeStats }); ok {
		t.rec.SetNodeStats(func() []telemetry.NodeStats { return nodeStats(p.Stats()) })
	}
	if !cfg.telemetry.on {
		return t, nil // obs stays nil: the server counts nothing
	}
	t.obs = t.rec
	// --trace-endpoint or OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT turns
	// tracing on; NewTracer returns nil when neither is set.
	tr, err := telemetry.NewTracer(ctx, telemetry.TracingOptions{
		Endpoint:    cfg.telemetry.traceEndpoint,
		Insecure:    cfg.telemetry.traceInsecure,
		SampleRatio: cfg.telemetry.traceSample,
		NodeID:      cfg.nodeID,
	})
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	if tr != nil {
		t.tracer = tr
		t.obs = traced{t.rec, tr}
	}
	return t, nil
}

// knownCommand keeps names outside the command table out of the labels.
// Names arrive canonical ("GET", "CLIENT|SETNAME"), so a subcommand is
// known when its container is; Lookup does not allocate.
func knownCommand(name string) bool {
	for i := 0; i < len(name); i++ {
		if name[i] == '|' {
			name = name[:i]
			break
		}
	}
	return resp.Lookup([]byte(name)) != nil
}

// nodeStats maps the upstream layer's view to the Recorder's gauges: one
// row per policy upstream name using the node.
func nodeStats(in []upstream.NodeStats) []telemetry.NodeStats {
	out := make([]telemetry.NodeStats, 0, len(in))
	for _, s := range in {
		names := s.Upstreams
		if len(names) == 0 {
			names = []string{""}
		}
		for _, name := range names {
			out = append(out, telemetry.NodeStats{
				Upstream:    name,
				Node:        s.Addr,
				Conns:       int64(s.Connections + s.Dedicated),
				Inflight:    int64(s.InFlight),
				CircuitOpen: s.Breaker == upstream.BreakerOpen,
			})
		}
	}
	return out
}

// applied counts a policy the proxy applied or refused, and records what
// each domain of the installed state runs. It is called under the
// applier's lock, so cur holds the state just installed.
func (t *proxyTelemetry) applied(cur *engine.Current, version string, err error) {
	if err != nil {
		t.rec.Nacked()
		return
	}
	t.rec.Reloaded()
	t.rec.SetPolicyVersion(policyVersion(version))
	if s := cur.Acquire(); s != nil {
		t.rec.SetDomainVersions(domainVersions(s, policyVersion(version)))
		s.Release()
	}
}

// domainVersions lists the version of each domain's stable tree and, while
// a rollout runs, its canary tree. A tree rendered without a version (a
// policy file) runs the snapshot's.
func domainVersions(s *engine.State, snapshot string) []telemetry.DomainVersion {
	out := make([]telemetry.DomainVersion, 0, len(s.Domains))
	add := func(domain, track string, tree *keywayv1.DomainTree) {
		v := tree.GetVersion()
		if v == "" {
			v = snapshot
		}
		out = append(out, telemetry.DomainVersion{Domain: domain, Track: track, Version: v})
	}
	for name, d := range s.Domains {
		add(name, "stable", d.Config.GetStable())
		if d.Canary != nil {
			add(name, "canary", d.Config.GetCanary())
		}
	}
	return out
}

// policyVersion is the policy version of a resource version: the control
// plane sends "v3-0123abcd" (policy version, content hash), and `keyway
// fleet` shows "v3", so the metric says the same. Other sources
// ("standalone", "file:PATH") are kept whole.
func policyVersion(v string) string {
	head, hash, ok := strings.Cut(v, "-")
	if !ok || len(head) < 2 || head[0] != 'v' || hash == "" {
		return v
	}
	for _, c := range head[1:] {
		if c < '0' || c > '9' {
			return v
		}
	}
	for _, c := range hash {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return v
		}
	}
	return head
}

// report streams summaries to the control plane's TelemetryService on wg
// until ctx ends, then flushes once. It never blocks the data path: a
// control plane that is down only folds intervals.
func (t *proxyTelemetry) report(ctx context.Context, target string, wg *sync.WaitGroup) error {
	// The same keepalive as the ADS connection: without it a half-open
	// connection fails every report until the kernel gives up on it.
	cc, err := grpc.NewClient(target, t.dial, grpc.WithKeepaliveParams(xdsclient.DefaultKeepalive))
	if err != nil {
		return fmt.Errorf("telemetry client for %s: %w", target, err)
	}
	rep := telemetry.NewReporter(t.rec, keywayv1.NewTelemetryServiceClient(cc), telemetry.ReporterOptions{
		NodeID:   t.node,
		Interval: t.cfg.interval,
		Logger:   t.log,
	})
	wg.Go(func() {
		defer cc.Close()
		rep.Run(ctx)
	})
	return nil
}

// shutdown flushes sampled spans.
func (t *proxyTelemetry) shutdown(ctx context.Context) {
	if err := t.tracer.Shutdown(ctx); err != nil {
		t.log.Warn("traces not flushed", "err", err)
	}
}

// The server asks traced, through observe.Tracer, which requests to time.
var _ observe.Tracer = traced{}

// traced is the Recorder plus sampled spans.
type traced struct {
	*telemetry.Recorder
	tr *telemetry.Tracer
}

// Sample decides, before a request is served, whether to trace it; the
// upstream layer fills the Trace of a sampled one (observe.Tracer).
func (o traced) Sample() *engine.Trace {
	if o.tr.Sampled() {
		return &engine.Trace{}
	}
	return nil
}

// ObserveTrace exports a sampled command as a span, with a child span of
// its upstream call when the upstream layer timed one.
func (o traced) ObserveTrace(domain, command, upstream string, kind engine.ErrorKind, start, end time.Time, up *engine.Trace) {
	o.tr.Record(domain, command, upstream, kind, start, end, up)
}
