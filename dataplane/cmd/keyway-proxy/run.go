package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend"
	"keyway.dev/dataplane/frontend/wire"
	"keyway.dev/dataplane/reload"
	"keyway.dev/dataplane/telemetry"
	"keyway.dev/proto/readyfile"
)

// version is the build's version, set with -ldflags "-X main.version=...".
var version = "dev"

// listenerName names the RESP listener in the policy's listeners, which
// may give its connections a workload domain.
const listenerName = "default"

// run serves until ctx ends, then drains and returns. Errors at start
// (ports taken, a bad policy file) are returned; later failures of the
// policy source are logged and the proxy keeps serving what it has.
func run(ctx context.Context, cfg config, log *slog.Logger) error {
	cur := &engine.Current{}
	env := &engine.Env{NodeID: cfg.nodeID}
	pools, closePools := newPools(log)
	defer closePools()
	applier := reload.NewApplier(newRegistry(), pools, env, cur, log)
	tel, err := newTelemetry(ctx, cfg, pools, log)
	if err != nil {
		return err
	}
	applier.Observe(func(v string, err error) { tel.applied(cur, v, err) })
	tel.rec.SetEngineStats(func() []engine.EngineStat { return engine.CollectCurrent(cur) })

	srv := frontend.New(frontend.Config{
		NodeID:   cfg.nodeID,
		Current:  cur,
		Limits:   cfg.limits,
		Logger:   log,
		Version:  version,
		Observer: tel.obs,
	})
	tlsFiles, err := cfg.clientTLS.files()
	if err != nil {
		return err
	}
	lns, err := openListeners(cfg.listen, cfg.clientTLS, tlsFiles)
	if err != nil {
		return err
	}
	more, err := openClusterListeners(cfg.clusterListen, cfg.clientTLS, tlsFiles)
	if err != nil {
		for _, l := range lns {
			_ = l.ln.Close()
		}
		return err
	}
	lns = append(lns, more...)
	adminLn, err := net.Listen("tcp", cfg.admin)
	if err != nil {
		for _, l := range lns {
			_ = l.ln.Close()
		}
		return fmt.Errorf("listen for admin: %w", err)
	}
	admin := &http.Server{Handler: withPprof(adminHandler(srv, tel.rec), cfg.pprof), ReadHeaderTimeout: 5 * time.Second}

	srcCtx, stopSource := context.WithCancel(ctx)
	defer stopSource()
	var wg sync.WaitGroup
	errc := make(chan error, 1+len(lns))
	// Every listener is announced (cluster emulation's nodes) before any
	// accepts, so no client sees a cluster missing some of them.
	added := make([]*wire.Listener, 0, len(lns))
	for _, l := range lns {
		wl, err := srv.Add(l.ln, l.name)
		if err != nil {
			for _, l := range lns {
				_ = l.ln.Close()
			}
			_ = adminLn.Close()
			return fmt.Errorf("listener %s: %w", l.name, err)
		}
		added = append(added, wl)
	}
	for _, l := range added {
		wg.Go(func() {
			if err := srv.ServeListener(l); !errors.Is(err, frontend.ErrServerClosed) {
				errc <- err
			}
		})
	}
	watchTLS(srcCtx, tlsFiles, cfg.clientTLS.reload, log, &wg)
	wg.Go(func() {
		if err := admin.Serve(adminLn); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("admin: %w", err)
		}
	})
	bound := boundAddrs(lns, adminLn)
	log.Info("keyway-proxy serving", "listen", bound["listen"], "tls", tlsFiles != nil, "tls_listen", bound["tls-listen"],
		"cluster_listen", bound["cluster-listen"], "admin", bound["admin"], "node", cfg.nodeID, "version", version)
	// A parent waiting for the ready file learns the bound ports from it;
	// when it cannot be written the proxy stops rather than leave the
	// parent waiting.
	srcErr := writeReady(cfg.readyFile, bound)
	defer func() {
		if err := readyfile.Remove(cfg.readyFile); err != nil {
			log.Warn("cannot remove the ready file", "err", err)
		}
	}()
	if srcErr == nil {
		srcErr = startSource(srcCtx, cfg, bound, applier, log, &wg)
	}
	if srcErr == nil && cfg.controlPlane != "" {
		// Stopped with the source, after the drain, so the last report
		// carries the drained requests.
		srcErr = tel.report(srcCtx, cfg.controlPlane, &wg)
	}
	if srcErr == nil {
		select {
		case <-ctx.Done():
			log.Info("shutting down", "drain_timeout", cfg.drainTimeout)
		case srcErr = <-errc:
		}
	}

	drainCtx, cancel := context.WithTimeout(context.Background(), cfg.drainTimeout)
	defer cancel()
	if err := srv.Shutdown(drainCtx); err != nil {
		log.Warn("drain cut short", "err", err)
	}
	stopSource()
	if err := admin.Shutdown(drainCtx); err != nil {
		_ = admin.Close()
	}
	wg.Wait()
	tel.shutdown(drainCtx)
	if st := cur.Load(); st != nil {
		cur.Install(nil)
	}
	return srcErr
}

// adminHandler serves liveness, readiness and the metrics of srv and rec.
func adminHandler(srv *frontend.Server, rec *telemetry.Recorder) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !srv.Ready() {
			http.Error(w, "not ready: no policy applied yet, or draining", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", metricsHandler(srv, rec))
	return mux
}
