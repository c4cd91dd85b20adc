package telemetry

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"keyway.dev/proto/latency"
)

// promBucketStep exports every fourth bucket bound (powers of two from 1µs):
// the full 106-bucket resolution stays in the reports, and a scrape stays
// small. Cumulative counts at those bounds are exact.
const promBucketStep = 4

// promFirstBucket skips bounds below 8µs, faster than any proxied request.
const promFirstBucket = 12

// Handler serves the Prometheus text exposition of r, for /metrics.
func (r *Recorder) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		// A client that goes away mid-scrape is not worth reporting.
		_ = r.WritePrometheus(w)
	})
}

// WritePrometheus writes every metric in the Prometheus text format.
func (r *Recorder) WritePrometheus(out io.Writer) error {
	w := bufio.NewWriterSize(out, 32<<10)
	snap := r.Snapshot()
	sort.Slice(snap, func(i, j int) bool { return labelsLess(snap[i].Labels, snap[j].Labels) })

	family(w, "keyway_requests_total", "counter", "Requests answered, by domain, track, command and upstream.")
	for i := range snap {
		s := &snap[i]
		sample(w, "keyway_requests_total", seriesLabels(s.Labels, ""), s.Requests())
	}
	family(w, "keyway_request_errors_total", "counter", "Requests answered with an error, by kind: upstream (error reply), timeout, refused (guardrail), proxy.")
	for i := range snap {
		s := &snap[i]
		for k, n := range s.Errors {
			if n > 0 {
				sample(w, "keyway_request_errors_total", seriesLabels(s.Labels, Kinds[k].String()), n)
			}
		}
	}
	family(w, "keyway_request_bytes_total", "counter", "Bytes of requests read from clients.")
	for i := range snap {
		s := &snap[i]
		sample(w, "keyway_request_bytes_total", seriesLabels(s.Labels, ""), s.RequestBytes)
	}
	family(w, "keyway_reply_bytes_total", "counter", "Bytes of replies written to clients.")
	for i := range snap {
		s := &snap[i]
		sample(w, "keyway_reply_bytes_total", seriesLabels(s.Labels, ""), s.ReplyBytes)
	}
	if r.opts.PerCommandHistograms {
		family(w, "keyway_request_duration_seconds", "histogram", "Time from reading a request to answering it, by domain, track, command and upstream.")
		for i := range snap {
			writeHistogram(w, &snap[i], seriesLabels(snap[i].Labels, ""))
		}
	} else {
		family(w, "keyway_request_duration_seconds", "histogram", "Time from reading a request to answering it, by domain, track and upstream (commands folded; keyway-proxy --metrics-per-command-histograms splits them).")
		for _, s := range foldCommands(snap) {
			writeHistogram(w, &s, "domain="+quote(s.Domain)+",track="+quote(s.Track)+",upstream="+quote(s.Upstream))
		}
	}

	family(w, "keyway_connections", "gauge", "Open client connections per domain.")
	conns := r.DomainConns()
	for _, d := range sortedKeys(conns) {
		fmt.Fprintf(w, "keyway_connections{domain=%s} %d\n", quote(d), conns[d])
	}
	r.writeNodes(w)
	r.writeEngines(w)

	r.writePolicyInfo(w)
	counter(w, "keyway_reloads_total", "Snapshots applied.", r.reloads.Load())
	counter(w, "keyway_nacks_total", "Snapshots refused (NACKed).", r.nacks.Load())
	counter(w, "keyway_telemetry_reports_total", "Telemetry reports delivered to the control plane.", r.reportsSent.Load())
	counter(w, "keyway_telemetry_folded_intervals_total", "Telemetry intervals that could not be sent and were folded into a later report.", r.reportsFolded.Load())
	counter(w, "keyway_telemetry_dropped_intervals_total", "Telemetry intervals dropped after too many failed sends.", r.reportsDropped.Load())
	counter(w, "keyway_telemetry_label_overflow_total", "Series whose labels were folded into other or UNKNOWN by the cardinality caps.", r.overflow.Load())
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	return nil
}

func (r *Recorder) writeNodes(w *bufio.Writer) {
	var nodes []NodeStats
	if f := r.nodeStats.Load(); f != nil && *f != nil {
		nodes = append(nodes, (*f)()...)
	}
	sort.Slice(nodes, func(i, j int) bool {
		if nodes[i].Upstream != nodes[j].Upstream {
			return nodes[i].Upstream < nodes[j].Upstream
		}
		return nodes[i].Node < nodes[j].Node
	})
	gauges := []struct {
		name, help string
		value      func(NodeStats) int64
	}{
		{"keyway_upstream_connections", "Open connections to an upstream node.", func(n NodeStats) int64 { return n.Conns }},
		{"keyway_upstream_inflight", "Requests sent to an upstream node and not yet answered.", func(n NodeStats) int64 { return n.Inflight }},
		{"keyway_upstream_circuit_open", "1 while the node's circuit breaker is open.", func(n NodeStats) int64 {
			if n.CircuitOpen {
				return 1
			}
			return 0
		}},
	}
	for _, g := range gauges {
		family(w, g.name, "gauge", g.help)
		for _, n := range nodes {
			fmt.Fprintf(w, "%s{upstream=%s,node=%s} %d\n", g.name, quote(n.Upstream), quote(n.Node), g.value(n))
		}
	}
}

// foldCommands merges the latency of every command of a domain, track
// and upstream, in the order of snap (sorted by labels).
func foldCommands(snap []SeriesSnapshot) []SeriesSnapshot {
	var out []SeriesSnapshot
	at := map[Labels]int{}
	for i := range snap {
		key := snap[i].Labels
		key.Command = ""
		j, ok := at[key]
		if !ok {
			j = len(out)
			at[key] = j
			out = append(out, SeriesSnapshot{Labels: key})
		}
		out[j].Latency.Merge(&snap[i].Latency)
	}
	return out
}

func writeHistogram(w *bufio.Writer, s *SeriesSnapshot, base string) {
	var cum uint64
	for i := 0; i < latency.NumBuckets-1; i++ {
		cum += s.Latency.Buckets[i]
		if i < promFirstBucket || i%promBucketStep != 0 {
			continue
		}
		le := strconv.FormatFloat(latency.Bound(i).Seconds(), 'g', -1, 64)
		fmt.Fprintf(w, "keyway_request_duration_seconds_bucket{%s,le=%q} %d\n", base, le, cum)
	}
	count := s.Requests()
	fmt.Fprintf(w, "keyway_request_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n", base, count)
	fmt.Fprintf(w, "keyway_request_duration_seconds_sum{%s} %s\n", base, strconv.FormatFloat(float64(s.Latency.SumNanos)/1e9, 'g', -1, 64))
	fmt.Fprintf(w, "keyway_request_duration_seconds_count{%s} %d\n", base, count)
}

func family(w *bufio.Writer, name, typ, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func counter(w *bufio.Writer, name, help string, v uint64) {
	family(w, name, "counter", help)
	fmt.Fprintf(w, "%s %d\n", name, v)
}

func sample(w *bufio.Writer, name, labels string, v uint64) {
	fmt.Fprintf(w, "%s{%s} %d\n", name, labels, v)
}

func seriesLabels(l Labels, kind string) string {
	s := "domain=" + quote(l.Domain) + ",track=" + quote(l.Track) + ",command=" + quote(l.Command) + ",upstream=" + quote(l.Upstream)
	if kind != "" {
		s += ",kind=" + quote(kind)
	}
	return s
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func quote(v string) string { return `"` + labelEscaper.Replace(v) + `"` }

func labelsLess(a, b Labels) bool {
	if a.Domain != b.Domain {
		return a.Domain < b.Domain
	}
	if a.Track != b.Track {
		return a.Track < b.Track
	}
	if a.Command != b.Command {
		return a.Command < b.Command
	}
	return a.Upstream < b.Upstream
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
