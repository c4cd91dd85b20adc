package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"keyway.dev/controlplane/metrics"
	"keyway.dev/controlplane/tracing"
)

// observeFlags say how keyway-control is watched: its log format and
// where it serves Prometheus metrics.
type observeFlags struct {
	logFormat     string
	metricsListen string
	trace         tracing.Options
}

func registerObserveFlags(fs *flag.FlagSet) *observeFlags {
	o := &observeFlags{}
	fs.StringVar(&o.logFormat, "log-format", "text", "text or json (one JSON object a line, for log collectors)")
	fs.StringVar(&o.metricsListen, "metrics-listen", "", "serve Prometheus /metrics, and /healthz and /readyz for probes that cannot speak gRPC over TLS, over HTTP on this address (for example 0.0.0.0:9190); empty serves none")
	fs.StringVar(&o.trace.Endpoint, "trace-endpoint", "", "OTLP/gRPC collector HOST:PORT for traces of admin calls, renders and publications; empty defers to OTEL_EXPORTER_OTLP_ENDPOINT, and tracing is off when neither is set")
	fs.BoolVar(&o.trace.Insecure, "trace-insecure", false, "send traces to --trace-endpoint without TLS")
	fs.Float64Var(&o.trace.Sample, "trace-sample", 0, "share of traces kept, in (0, 1]; 0 defers to OTEL_TRACES_SAMPLER (default: all)")
	return o
}

// startTracing installs the OpenTelemetry exporter when a collector is
// configured; stop flushes what is buffered.
func (o *observeFlags) startTracing(logger *slog.Logger) (stop func(), err error) {
	shutdown, err := tracing.Setup(context.Background(), o.trace)
	if err != nil {
		return nil, fmt.Errorf("--trace-endpoint: %w", err)
	}
	if o.trace.Enabled(os.Getenv) {
		logger.Info("exporting traces", "endpoint", o.trace.Endpoint)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdown(ctx); err != nil {
			logger.Warn("traces not flushed", "err", err)
		}
	}, nil
}

func (o *observeFlags) logger(w io.Writer, lvl slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: lvl}
	switch o.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is neither text nor json", o.logFormat)
}

// serveMetrics listens on --metrics-listen, when set, and serves m until
// stop is called; addr is the address bound (port 0 is the kernel's
// choice), empty when there is no listener. Listening happens now, so a taken port fails the start.
// /healthz answers 200 while the process runs; /readyz answers 200 once
// ready says so (the store is open and gRPC serves) and 503 otherwise,
// for Kubernetes probes when gRPC is served over TLS, which kubelet's
// gRPC probe cannot speak.
func (o *observeFlags) serveMetrics(m *metrics.Control, ready func() bool, logger *slog.Logger) (addr string, stop func(), err error) {
	if o.metricsListen == "" {
		return "", func() {}, nil
	}
	lis, err := net.Listen("tcp", o.metricsListen)
	if err != nil {
		return "", nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	hs := &http.Server{Handler: observeMux(m, ready), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "err", err)
		}
	}()
	logger.Info("serving metrics", "addr", lis.Addr().String())
	return lis.Addr().String(), func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		<-done
	}, nil
}

func observeMux(m *metrics.Control, ready func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	return mux
}
