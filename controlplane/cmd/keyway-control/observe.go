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
	"time"

	"keyway.dev/controlplane/metrics"
)

// observeFlags say how keyway-control is watched: its log format and
// where it serves Prometheus metrics.
type observeFlags struct {
	logFormat     string
	metricsListen string
}

func registerObserveFlags(fs *flag.FlagSet) *observeFlags {
	o := &observeFlags{}
	fs.StringVar(&o.logFormat, "log-format", "text", "text or json (one JSON object a line, for log collectors)")
	fs.StringVar(&o.metricsListen, "metrics-listen", "", "serve Prometheus /metrics over HTTP on this address (for example 0.0.0.0:9190); empty serves none")
	return o
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
// stop is called. Listening happens now, so a taken port fails the start.
func (o *observeFlags) serveMetrics(m *metrics.Control, logger *slog.Logger) (stop func(), err error) {
	if o.metricsListen == "" {
		return func() {}, nil
	}
	lis, err := net.Listen("tcp", o.metricsListen)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "err", err)
		}
	}()
	logger.Info("serving metrics", "addr", lis.Addr().String())
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		<-done
	}, nil
}
