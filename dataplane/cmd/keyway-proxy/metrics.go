package main

import (
	"bytes"
	"fmt"
	"net/http"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"keyway.dev/dataplane/frontend"
	"keyway.dev/dataplane/telemetry"
	"keyway.dev/proto/buildinfo"
)

// metricsHandler serves /metrics through client_golang's handler, which
// negotiates gzip and the OpenMetrics format with the scraper, adding the
// Go runtime and process collectors and keyway_build_info to the
// Recorder's own exposition. The Recorder writes text directly (its
// counting stays off client_golang's per-series locks on the data path);
// the scrape parses it back, a cost paid per scrape, not per command.
func metricsHandler(srv *frontend.Server, rec *telemetry.Recorder) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	bi := buildinfo.Get()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "keyway_build_info",
		Help:        "Always 1; the labels say which build runs.",
		ConstLabels: prometheus.Labels{"program": "keyway-proxy", "version": bi.Version, "commit": bi.Commit, "goversion": bi.Go},
	})
	build.Set(1)
	reg.MustRegister(build)
	own := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		var buf bytes.Buffer
		ready := 0
		if srv.Ready() {
			ready = 1
		}
		fmt.Fprintf(&buf, "# HELP keyway_server_clients Open client connections.\n# TYPE keyway_server_clients gauge\nkeyway_server_clients %d\n", srv.Clients())
		fmt.Fprintf(&buf, "# HELP keyway_server_ready Whether the proxy takes traffic.\n# TYPE keyway_server_ready gauge\nkeyway_server_ready %d\n", ready)
		writeAuthMetrics(&buf, srv.AuthStats())
		if err := rec.WritePrometheus(&buf); err != nil {
			return nil, err
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(&buf)
		if err != nil {
			return nil, fmt.Errorf("parse the recorder's exposition: %w", err)
		}
		out := make([]*dto.MetricFamily, 0, len(fams))
		for _, f := range fams {
			out = append(out, f)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
		return out, nil
	})
	g := prometheus.Gatherers{reg, own}
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{EnableOpenMetrics: true, ErrorHandling: promhttp.ContinueOnError})
}
