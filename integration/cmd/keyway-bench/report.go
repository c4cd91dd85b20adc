package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// summary is one row of the table: a test on a target, as medians over
// the repetitions. Ratios are taken per repetition, between runs seconds
// apart, and then their median, because on a shared 2-core machine
// absolute numbers drift from minute to minute while ratios hold.
type summary struct {
	Workload     string  `json:"wl"`
	Test         string  `json:"test"`
	Target       string  `json:"target"`
	Reps         int     `json:"reps"`
	Ops          float64 `json:"ops"`
	XDirect      float64 `json:"x_direct,omitempty"`
	XTwem        float64 `json:"x_twemproxy,omitempty"`
	XCluster     float64 `json:"x_clusterclient,omitempty"`
	P50Us        float64 `json:"p50_us"`
	P99Us        float64 `json:"p99_us"`
	AddedP50Us   float64 `json:"added_p50_us,omitempty"`
	ProxyUsPerOp float64 `json:"proxy_cpu_us_per_req,omitempty"`
	RedisUsPerOp float64 `json:"redis_cpu_us_per_req"`
	LoadCPUPct   float64 `json:"loadgen_cpu_pct"`
	// LoadUsPerOp is the load generator's CPU per request: in the
	// cluster workloads, what the application's client library costs.
	LoadUsPerOp float64 `json:"loadgen_cpu_us_per_req"`
	Errors      int     `json:"errors"`

	Storm *stormResult `json:"storm,omitempty"`
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

type testKey struct{ wl, test string }

// summarize reduces records to one summary per test and target, in the
// order the tests ran and targets were listed.
func summarize(recs []*record, targets []string) []summary {
	var tests []testKey
	by := map[testKey]map[string]map[int]*record{}
	for _, r := range recs {
		k := testKey{r.Workload, r.Test}
		if by[k] == nil {
			by[k] = map[string]map[int]*record{}
			tests = append(tests, k)
		}
		if by[k][r.Target] == nil {
			by[k][r.Target] = map[int]*record{}
		}
		by[k][r.Target][r.Rep] = r
	}
	var out []summary
	for _, k := range tests {
		for _, tg := range targets {
			reps := by[k][tg]
			if len(reps) == 0 {
				continue
			}
			out = append(out, summarizeOne(k, tg, reps, by[k][direct], by[k][twemproxy], by[k][clusterClient]))
		}
	}
	return out
}

func summarizeOne(k testKey, tg string, reps, dir, twem, cc map[int]*record) summary {
	s := summary{Workload: k.wl, Test: k.test, Target: tg, Reps: len(reps)}
	var ops, xd, xt, xc, p50, p99, added, pcpu, rcpu, lcpu, lreq []float64
	var storms []*stormResult
	for rep, r := range reps {
		s.Errors += r.Errors
		if r.Storm != nil {
			storms = append(storms, r.Storm)
		}
		ops = append(ops, r.Ops)
		p50 = append(p50, r.P50Us)
		p99 = append(p99, r.P99Us)
		if d := dir[rep]; d != nil && d.Ops > 0 {
			xd = append(xd, r.Ops/d.Ops)
			added = append(added, r.P50Us-d.P50Us)
		}
		if t := twem[rep]; t != nil && t.Ops > 0 {
			xt = append(xt, r.Ops/t.Ops)
		}
		if c := cc[rep]; c != nil && c.Ops > 0 {
			xc = append(xc, r.Ops/c.Ops)
		}
		if r.Requests > 0 {
			if tg != direct && tg != clusterClient {
				pcpu = append(pcpu, r.ProxyCPUS*1e6/float64(r.Requests))
			}
			rcpu = append(rcpu, r.RedisCPUS*1e6/float64(r.Requests))
			lreq = append(lreq, r.LoadCPUS*1e6/float64(r.Requests))
		}
		if r.WallS > 0 {
			lcpu = append(lcpu, r.LoadCPUS/r.WallS*100)
		}
	}
	s.Ops, s.XDirect, s.XTwem, s.XCluster = median(ops), median(xd), median(xt), median(xc)
	s.P50Us, s.P99Us, s.AddedP50Us = median(p50), median(p99), median(added)
	s.ProxyUsPerOp, s.RedisUsPerOp, s.LoadCPUPct, s.LoadUsPerOp = median(pcpu), median(rcpu), median(lcpu), median(lreq)
	if len(storms) > 0 {
		s.Storm = medianStorm(storms)
	}
	return s
}

// medianStorm takes the median of each W4 figure.
func medianStorm(ss []*stormResult) *stormResult {
	pick := func(f func(*stormResult) float64) float64 {
		v := make([]float64, len(ss))
		for i, s := range ss {
			v[i] = f(s)
		}
		return median(v)
	}
	return &stormResult{
		Conns:         ss[0].Conns,
		OK:            int(pick(func(s *stormResult) float64 { return float64(s.OK) })),
		Failed:        int(pick(func(s *stormResult) float64 { return float64(s.Failed) })),
		OpenSeconds:   pick(func(s *stormResult) float64 { return s.OpenSeconds }),
		UpstreamConns: int(pick(func(s *stormResult) float64 { return float64(s.UpstreamConns) })),
		RSSBeforeKB:   int64(pick(func(s *stormResult) float64 { return float64(s.RSSBeforeKB) })),
		RSSHeldKB:     int64(pick(func(s *stormResult) float64 { return float64(s.RSSHeldKB) })),
		KBPerConn:     pick(func(s *stormResult) float64 { return s.KBPerConn }),
		CPUUsPerConn:  pick(func(s *stormResult) float64 { return s.CPUUsPerConn }),
		CrowdP50Us:    pick(func(s *stormResult) float64 { return s.CrowdP50Us }),
		CrowdP99Us:    pick(func(s *stormResult) float64 { return s.CrowdP99Us }),
		CrowdErrors:   int(pick(func(s *stormResult) float64 { return float64(s.CrowdErrors) })),
	}
}

func ratio(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

func num(v float64, prec int) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

// printTables writes the throughput table, the W4 table and the cluster
// table as Markdown, ready for the README; a table without rows is left
// out.
func printTables(w io.Writer, sums []summary) {
	var plain, storms, clusters []summary
	for _, s := range sums {
		switch {
		case s.Storm != nil:
			storms = append(storms, s)
		case isCluster(s.Workload):
			clusters = append(clusters, s)
		default:
			plain = append(plain, s)
		}
	}
	sep := false
	if len(plain) > 0 {
		printPlainTable(w, plain)
		sep = true
	}
	if len(storms) > 0 {
		if sep {
			fmt.Fprintln(w)
		}
		printStormTable(w, storms)
		sep = true
	}
	if len(clusters) > 0 {
		if sep {
			fmt.Fprintln(w)
		}
		printClusterTable(w, clusters)
	}
}

func printPlainTable(w io.Writer, sums []summary) {
	fmt.Fprintln(w, "| test | target | ops/s | x direct | x twem | p50 µs | p99 µs | +p50 µs | proxy CPU µs/req | redis CPU µs/req | loadgen CPU % | errors |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, s := range sums {
		added := "-"
		if s.Target != direct && s.Workload == "W0" {
			added = fmt.Sprintf("%+.1f", s.AddedP50Us)
		}
		fmt.Fprintf(w, "| %s %s | %s | %.0f | %s | %s | %.1f | %.1f | %s | %s | %.2f | %.0f | %d |\n",
			s.Workload, s.Test, s.Target, s.Ops, ratio(s.XDirect), ratio(s.XTwem), s.P50Us, s.P99Us,
			added, num(s.ProxyUsPerOp, 2), s.RedisUsPerOp, s.LoadCPUPct, s.Errors)
	}
}

func printStormTable(w io.Writer, storms []summary) {
	fmt.Fprintln(w, "| W4 target | conns ok/failed | open s | upstream conns | RSS held MB | KB per idle conn | CPU µs/conn | crowd p50/p99 µs |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, s := range storms {
		st := s.Storm
		fmt.Fprintf(w, "| %s | %d/%d | %.2f | %d | %.1f | %.1f | %.1f | %.0f/%.0f |\n",
			s.Target, st.OK, st.Failed, st.OpenSeconds, st.UpstreamConns, float64(st.RSSHeldKB)/1024,
			st.KBPerConn, st.CPUUsPerConn, st.CrowdP50Us, st.CrowdP99Us)
	}
}

// headline is the few figures issue 3 sets targets for, in one block.
func headline(w io.Writer, sums []summary) {
	get := func(wl, test, tg string) *summary {
		for i := range sums {
			if sums[i].Workload == wl && sums[i].Test == test && sums[i].Target == tg {
				return &sums[i]
			}
		}
		return nil
	}
	var lines []string
	for _, t := range []testKey{{"W1", "GET"}, {"W1", "SET"}, {"W2", "GET"}, {"W2", "SET"}, {"W3", "MGET"}, {"W5", "GET"}, {"W5", "SET"}} {
		k, tw := get(t.wl, t.test, keyway), get(t.wl, t.test, twemproxy)
		if k == nil {
			continue
		}
		line := fmt.Sprintf("%s %s: keyway %s x direct, %s x twemproxy; proxy CPU %.2f µs/req", t.wl, t.test, ratio(k.XDirect), ratio(k.XTwem), k.ProxyUsPerOp)
		if tw != nil {
			line += fmt.Sprintf(" (twemproxy %.2f)", tw.ProxyUsPerOp)
		}
		lines = append(lines, line)
	}
	if k, tw := get("W0", "GET", keyway), get("W0", "GET", twemproxy); k != nil {
		line := fmt.Sprintf("W0 GET: added p50 latency keyway %+.1f µs", k.AddedP50Us)
		if tw != nil {
			line += fmt.Sprintf(", twemproxy %+.1f µs", tw.AddedP50Us)
		}
		lines = append(lines, line)
	}
	for _, t := range []testKey{{"C1", "MGET"}, {"C2", "GET"}, {"C2", "SET"}, {"C3", "GET"}, {"C3", "SET"}} {
		if k := get(t.wl, t.test, keyway); k != nil {
			line := fmt.Sprintf("%s %s (Redis Cluster): keyway %s x ClusterClient; proxy CPU %.2f µs/req, client CPU %.2f µs/req",
				t.wl, t.test, ratio(k.XCluster), k.ProxyUsPerOp, k.LoadUsPerOp)
			if c := get(t.wl, t.test, clusterClient); c != nil {
				line += fmt.Sprintf(" (ClusterClient %.2f)", c.LoadUsPerOp)
			}
			lines = append(lines, line)
		}
	}
	if k := get("W4", "storm", keyway); k != nil && k.Storm != nil {
		lines = append(lines, fmt.Sprintf("W4: %d client conns held on %d upstream conns, %.1f KB per idle client conn",
			k.Storm.OK, k.Storm.UpstreamConns, k.Storm.KBPerConn))
	}
	if len(lines) > 0 {
		fmt.Fprintln(w, strings.Join(lines, "\n"))
	}
}

// printClusterTable writes the cluster workloads' table: keyway-proxy
// against go-redis's ClusterClient on the same Redis Cluster.
func printClusterTable(w io.Writer, sums []summary) {
	fmt.Fprintln(w, "| cluster test | target | ops/s | x ClusterClient | p50 µs | p99 µs | proxy CPU µs/req | redis CPU µs/req | client CPU µs/req | loadgen CPU % | errors |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, s := range sums {
		fmt.Fprintf(w, "| %s %s | %s | %.0f | %s | %.1f | %.1f | %s | %.2f | %.2f | %.0f | %d |\n",
			s.Workload, s.Test, s.Target, s.Ops, ratio(s.XCluster), s.P50Us, s.P99Us,
			num(s.ProxyUsPerOp, 2), s.RedisUsPerOp, s.LoadUsPerOp, s.LoadCPUPct, s.Errors)
	}
}
