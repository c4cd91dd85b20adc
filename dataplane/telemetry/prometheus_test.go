package telemetry

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"keyway.dev/dataplane/engine"
)

// scrape serves r's /metrics over real HTTP and parses the answer.
func scrape(t *testing.T, r *Recorder) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatalf("get /metrics: %v", err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("content type %q", ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	return fams
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// value finds the sample of family name whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no family %s", name)
	}
next:
	for _, m := range f.GetMetric() {
		got := labelsOf(m)
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		return m
	}
	t.Fatalf("no %s sample with %v", name, want)
	return nil
}

func TestPrometheusAgreesWithCounts(t *testing.T) {
	r := New(Options{})
	for i := range 30 {
		kind := engine.KindNone
		if i%10 == 0 {
			kind = engine.KindTimeout
		}
		r.Observe("payments", "stable", "GET", "cache", kind, 7, 11, 300*time.Microsecond)
	}
	r.Observe("search", "canary", "SET", "main", engine.KindUpstream, 100, 5, 20*time.Millisecond)
	r.Observe(`we"ird`, "stable", "GET", "main", engine.KindNone, 1, 1, time.Millisecond)
	r.ConnOpened("payments")
	r.ConnOpened("payments")
	r.SetPolicyVersion("v7")
	r.Reloaded()
	r.Nacked()
	r.Nacked()
	r.SetNodeStats(func() []NodeStats {
		return []NodeStats{{Upstream: "cache", Node: "127.0.0.1:7000", Conns: 2, Inflight: 3, CircuitOpen: true}}
	})
	fams := scrape(t, r)
	pay := map[string]string{"domain": "payments", "track": "stable", "command": "GET", "upstream": "cache"}

	counters := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"keyway_requests_total", pay, 30},
		{"keyway_request_errors_total", merge(pay, "kind", "timeout"), 3},
		{"keyway_request_errors_total", map[string]string{"domain": "search", "kind": "upstream"}, 1},
		{"keyway_request_bytes_total", pay, 30 * 7},
		{"keyway_reply_bytes_total", pay, 30 * 11},
		{"keyway_requests_total", map[string]string{"domain": `we"ird`}, 1},
		{"keyway_reloads_total", nil, 1},
		{"keyway_nacks_total", nil, 2},
	}
	for _, c := range counters {
		t.Run(c.name, func(t *testing.T) {
			if got := value(t, fams, c.name, c.labels).GetCounter().GetValue(); got != c.want {
				t.Fatalf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
			}
		})
	}
	gauges := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"keyway_connections", map[string]string{"domain": "payments"}, 2},
		{"keyway_policy_info", map[string]string{"version": "v7"}, 1},
		{"keyway_upstream_connections", map[string]string{"upstream": "cache", "node": "127.0.0.1:7000"}, 2},
		{"keyway_upstream_inflight", map[string]string{"node": "127.0.0.1:7000"}, 3},
		{"keyway_upstream_circuit_open", map[string]string{"node": "127.0.0.1:7000"}, 1},
	}
	for _, g := range gauges {
		t.Run(g.name, func(t *testing.T) {
			if got := value(t, fams, g.name, g.labels).GetGauge().GetValue(); got != g.want {
				t.Fatalf("%s%v = %v, want %v", g.name, g.labels, got, g.want)
			}
		})
	}
	t.Run("histogram", func(t *testing.T) {
		h := value(t, fams, "keyway_request_duration_seconds", map[string]string{"domain": "payments", "track": "stable", "upstream": "cache"}).GetHistogram()
		if h.GetSampleCount() != 30 {
			t.Fatalf("count = %d, want 30", h.GetSampleCount())
		}
		if got, want := h.GetSampleSum(), 30*300e-6; got < want*0.999 || got > want*1.001 {
			t.Fatalf("sum = %v, want %v", got, want)
		}
		// Every request took 300µs: buckets below it are empty, the rest full.
		for _, b := range h.GetBucket() {
			want := uint64(0)
			if b.GetUpperBound() >= 300e-6 {
				want = 30
			}
			if b.GetCumulativeCount() != want {
				t.Fatalf("bucket le=%v = %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
			}
		}
	})
}

func merge(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		out[a] = b
	}
	return out
}

// By default the latency histogram folds commands together, so its series
// do not multiply by the commands in use; per-command counts stay in
// keyway_requests_total. PerCommandHistograms splits them again.
func TestHistogramCommandFolding(t *testing.T) {
	observe := func(r *Recorder) {
		for range 3 {
			r.Observe("web", "stable", "GET", "main", engine.KindNone, 1, 1, time.Millisecond)
		}
		r.Observe("web", "stable", "SET", "main", engine.KindNone, 1, 1, time.Millisecond)
		r.Observe("web", "stable", "GET", "replica", engine.KindNone, 1, 1, time.Millisecond)
	}
	folded := New(Options{})
	observe(folded)
	fams := scrape(t, folded)
	hist := fams["keyway_request_duration_seconds"].GetMetric()
	if len(hist) != 2 {
		t.Fatalf("%d histogram series, want 2 (one per upstream)", len(hist))
	}
	for _, m := range hist {
		for _, l := range m.GetLabel() {
			if l.GetName() == "command" {
				t.Fatalf("folded histogram has a command label: %v", m.GetLabel())
			}
		}
	}
	if got := value(t, fams, "keyway_request_duration_seconds", map[string]string{"upstream": "main"}).GetHistogram().GetSampleCount(); got != 4 {
		t.Fatalf("main's histogram counts %d, want 4 (GET and SET)", got)
	}
	if got := value(t, fams, "keyway_requests_total", map[string]string{"command": "SET"}).GetCounter().GetValue(); got != 1 {
		t.Fatalf("SET's counter is %v, want 1", got)
	}

	split := New(Options{PerCommandHistograms: true})
	observe(split)
	fams = scrape(t, split)
	if n := len(fams["keyway_request_duration_seconds"].GetMetric()); n != 3 {
		t.Fatalf("%d per-command histogram series, want 3", n)
	}
	if got := value(t, fams, "keyway_request_duration_seconds", map[string]string{"command": "GET", "upstream": "main"}).GetHistogram().GetSampleCount(); got != 3 {
		t.Fatalf("GET on main counts %d, want 3", got)
	}
}

// seriesAt counts the exposition's samples at 20 domains, 2 tracks, 40
// commands and 4 upstreams, every combination seen, one error kind each
// (the figures README Telemetry states).
func seriesAt(t *testing.T, perCommand bool) (total, histogram int) {
	t.Helper()
	r := New(Options{PerCommandHistograms: perCommand})
	for d := range 20 {
		for _, tr := range []string{"stable", "canary"} {
			for c := range 40 {
				for u := range 4 {
					r.Observe(fmt.Sprintf("d%d", d), tr, fmt.Sprintf("CMD%d", c), fmt.Sprintf("u%d", u), engine.KindTimeout, 1, 1, time.Millisecond)
				}
			}
		}
	}
	var b strings.Builder
	if err := r.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		total++
		if strings.HasPrefix(line, "keyway_request_duration_seconds") {
			histogram++
		}
	}
	return total, histogram
}

func TestSeriesCountAtScale(t *testing.T) {
	total, hist := seriesAt(t, false)
	totalPer, histPer := seriesAt(t, true)
	t.Logf("folded: %d series (%d histogram); per command: %d series (%d histogram)", total, hist, totalPer, histPer)
	if hist != 20*2*4*27 || histPer != 20*2*40*4*27 {
		t.Fatalf("histogram series %d and %d, want %d and %d (27 samples per histogram)", hist, histPer, 20*2*4*27, 20*2*40*4*27)
	}
}
