// Package metrics is keyway-control's Prometheus instrumentation: what
// its admin API, renderer, publisher, ADS streams, etcd client and
// rollout election do, with the Go runtime and process collectors, served
// by client_golang's handler (gzip and OpenMetrics negotiated).
//
// Every label is bounded: methods come from the gRPC service table, codes
// from gRPC's sixteen, NACK types from the xDS resource types. A NACK's
// reason is free text and is not a label; `keyway fleet` shows it.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"keyway.dev/proto/buildinfo"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Control holds keyway-control's metrics.
type Control struct {
	reg *prometheus.Registry

	adminCalls   *prometheus.CounterVec
	adminSeconds *prometheus.HistogramVec
	renders      *prometheus.HistogramVec
	publishes    prometheus.Counter
	publishSecs  prometheus.Histogram
	ackSeconds   prometheus.Histogram
	nacks        *prometheus.CounterVec
	connected    prometheus.Gauge
	etcdSeconds  *prometheus.HistogramVec
	etcdErrors   *prometheus.CounterVec
	leader       prometheus.Gauge
	active       prometheus.Gauge

	mu sync.Mutex
	// activeVersion and activatedAt are the last activation this replica
	// published, which push-to-ACK latency is measured from.
	activeVersion string
	activatedAt   time.Time
	// nodes is what each proxy last reported, to tell a change from a
	// repeat.
	nodes map[string]nodeSeen
}

type nodeSeen struct {
	connected bool
	version   string
	nackTime  time.Time
}

// latencyBuckets span a local etcd round trip (sub-millisecond) to a
// render near its time limit (seconds).
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New registers keyway-control's metrics, the Go and process collectors
// and keyway_build_info in a registry of their own.
func New() *Control {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	c := &Control{reg: reg, nodes: map[string]nodeSeen{}}
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	bi := buildinfo.Get()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "keyway_build_info",
		Help:        "Always 1; the labels say which build runs.",
		ConstLabels: prometheus.Labels{"program": "keyway-control", "version": bi.Version, "commit": bi.Commit, "goversion": bi.Go},
	})
	build.Set(1)
	f(build)
	c.adminCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyway_control_grpc_requests_total",
		Help: "Unary gRPC calls (admin API, telemetry reports) by method and status code.",
	}, []string{"method", "code"})
	c.adminSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "keyway_control_grpc_request_duration_seconds",
		Help:    "Duration of unary gRPC calls by method.",
		Buckets: latencyBuckets,
	}, []string{"method"})
	c.renders = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "keyway_control_render_duration_seconds",
		Help:    "Time to render a pushed policy bundle, by result (ok, error).",
		Buckets: latencyBuckets,
	}, []string{"result"})
	c.publishes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "keyway_control_activations_total",
		Help: "Policy activations this replica built a snapshot for and published to its proxies.",
	})
	c.publishSecs = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "keyway_control_snapshot_build_duration_seconds",
		Help:    "Time to assemble and install the xDS snapshot of an activated version.",
		Buckets: latencyBuckets,
	})
	c.ackSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "keyway_control_push_ack_duration_seconds",
		Help:    "From an activation being published to each connected proxy reporting it applied.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	})
	c.nacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyway_control_nacks_total",
		Help: "Snapshots proxies refused, by xDS resource type; the reasons are in `keyway fleet`.",
	}, []string{"type"})
	c.connected = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "keyway_control_connected_proxies",
		Help: "Proxies with an ADS stream open to this replica.",
	})
	c.etcdSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "keyway_control_etcd_request_duration_seconds",
		Help:    "Duration of unary etcd requests by method (external etcd only).",
		Buckets: latencyBuckets,
	}, []string{"method"})
	c.etcdErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyway_control_etcd_request_errors_total",
		Help: "Failed unary etcd requests by method and gRPC code (external etcd only).",
	}, []string{"method", "code"})
	c.leader = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "keyway_control_rollout_leader",
		Help: "1 while this replica holds the rollout-leader election and drives rollouts.",
	})
	c.active = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "keyway_control_active_version",
		Help: "The policy version this replica publishes as active.",
	})
	for _, m := range []prometheus.Collector{c.adminCalls, c.adminSeconds, c.renders, c.publishes, c.publishSecs,
		c.ackSeconds, c.nacks, c.connected, c.etcdSeconds, c.etcdErrors, c.leader, c.active} {
		f(m)
	}
	return c
}

// Handler serves the registry; client_golang negotiates gzip and the
// OpenMetrics format with the scraper.
func (c *Control) Handler() http.Handler {
	return promhttp.HandlerFor(c.reg, promhttp.HandlerOpts{EnableOpenMetrics: true, Registry: c.reg})
}

// Registry is where the metrics live, for tests and further collectors.
func (c *Control) Registry() *prometheus.Registry { return c.reg }

// UnaryServer counts and times unary calls. It should run first in the
// chain so refused calls (Unauthenticated, PermissionDenied) count too.
func (c *Control) UnaryServer() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		m := shortMethod(info.FullMethod)
		c.adminSeconds.WithLabelValues(m).Observe(time.Since(start).Seconds())
		c.adminCalls.WithLabelValues(m, status.Code(err).String()).Inc()
		return resp, err
	}
}

// UnaryClient times etcd requests; add it to the etcd client's dial
// options.
func (c *Control) UnaryClient() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		start := time.Now()
		err := invoker(ctx, method, req, reply, cc, opts...)
		m := shortMethod(method)
		c.etcdSeconds.WithLabelValues(m).Observe(time.Since(start).Seconds())
		if err != nil {
			c.etcdErrors.WithLabelValues(m, status.Code(err).String()).Inc()
		}
		return err
	}
}

// shortMethod turns "/keyway.v1.PolicyService/Push" into
// "PolicyService/Push".
func shortMethod(full string) string {
	full = strings.TrimPrefix(full, "/")
	if i := strings.LastIndexByte(full[:max(strings.IndexByte(full, '/'), 0)], '.'); i >= 0 {
		return full[i+1:]
	}
	return full
}

// ObserveRender records one render.
func (c *Control) ObserveRender(took time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	c.renders.WithLabelValues(result).Observe(took.Seconds())
}

// ObserveActivation records that version v was published after took to
// build and install its snapshot; proxies' ACKs are timed from now.
func (c *Control) ObserveActivation(v *keywayv1.PolicyVersion, took time.Duration) {
	c.publishes.Inc()
	c.publishSecs.Observe(took.Seconds())
	c.active.Set(float64(v.GetVersion()))
	c.mu.Lock()
	c.activeVersion = "v" + strconv.FormatUint(v.GetVersion(), 10)
	c.activatedAt = time.Now()
	c.mu.Unlock()
}

// ObserveNode is fed every status change of a proxy (xds.StatusSink); it
// must not block.
func (c *Control) ObserveNode(n *keywayv1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prev, known := c.nodes[n.GetId()]
	now := seenOf(n)
	switch {
	case now.connected && !prev.connected:
		c.connected.Inc()
	case !now.connected && prev.connected:
		c.connected.Dec()
	}
	if !now.nackTime.IsZero() && !now.nackTime.Equal(prev.nackTime) {
		c.nacks.WithLabelValues(n.GetLastNack().GetType()).Inc()
	}
	// A proxy that was running something else and now reports the
	// version this replica activated has applied the push; a proxy seen
	// for the first time already running it has not been pushed to.
	if known && now.connected && prev.version != now.version && now.version == c.activeVersion && !c.activatedAt.IsZero() {
		c.ackSeconds.Observe(time.Since(c.activatedAt).Seconds())
	}
	c.nodes[n.GetId()] = now
}

// ForgetNode drops a proxy gone for --forget-nodes-after.
func (c *Control) ForgetNode(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nodes[id].connected {
		c.connected.Dec()
	}
	delete(c.nodes, id)
}

func seenOf(n *keywayv1.Node) nodeSeen {
	s := nodeSeen{connected: n.GetConnected(), version: n.GetPolicyVersion()}
	if t := n.GetLastNack().GetTime(); t != nil {
		s.nackTime = t.AsTime()
	}
	return s
}

// SetLeader records whether this replica drives rollouts.
func (c *Control) SetLeader(leading bool) {
	if leading {
		c.leader.Set(1)
	} else {
		c.leader.Set(0)
	}
}
