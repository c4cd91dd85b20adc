package telemetry

import (
	"math"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	keywayv1 "keyway.dev/proto/keyway/v1"
	"keyway.dev/proto/latency"
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// hist is n observations of d, as a proxy reports them: in the shared
// scheme, trailing empty buckets dropped.
func hist(d time.Duration, n int) *keywayv1.LatencyHistogram {
	b := latency.BucketOf(d)
	buckets := make([]uint64, b+1)
	buckets[b] = uint64(n)
	return &keywayv1.LatencyHistogram{Buckets: buckets, Count: uint64(n), SumSeconds: float64(uint64(n)*uint64(d)) / 1e9}
}

func cmd(domain, command string, n int, latency time.Duration, errs map[string]uint64) *keywayv1.CommandStats {
	return &keywayv1.CommandStats{Domain: domain, Track: "stable", Command: command, Upstream: "main",
		Requests: uint64(n), Errors: errs, RequestBytes: uint64(10 * n), ReplyBytes: uint64(20 * n), Latency: hist(latency, n)}
}

func rep(node string, covers time.Duration, now time.Time, cmds ...*keywayv1.CommandStats) *keywayv1.ReportRequest {
	return &keywayv1.ReportRequest{NodeId: node, Start: timestamppb.New(now.Add(-covers)), End: timestamppb.New(now), Commands: cmds}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestAggregatorMergesNodes(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	a := New(Options{Now: c.now})
	c.advance(time.Minute)
	// Two nodes, a minute of traffic each: fast GETs on one, slow SETs
	// with timeouts on the other.
	r1 := rep("proxy-1", time.Minute, c.t,
		cmd("payments", "GET", 5400, 100*time.Microsecond, nil),
		cmd("search", "GET", 60, time.Millisecond, nil))
	r1.Domains = []*keywayv1.DomainGauge{{Domain: "payments", Connections: 40}}
	r1.HotKeys = []*keywayv1.HotKey{{Domain: "payments", Key: "user:1", Count: 900}, {Domain: "payments", Key: "user:2", Count: 100}}
	r2 := rep("proxy-2", time.Minute, c.t,
		cmd("payments", "SET", 600, 20*time.Millisecond, map[string]uint64{"timeout": 6}))
	r2.Domains = []*keywayv1.DomainGauge{{Domain: "payments", Connections: 2}}
	r2.HotKeys = []*keywayv1.HotKey{{Domain: "payments", Key: "user:2", Count: 1000}}
	for _, r := range []*keywayv1.ReportRequest{r1, r2} {
		if err := a.Ingest(r); err != nil {
			t.Fatalf("ingest: %v", err)
		}
	}

	t.Run("fleet", func(t *testing.T) {
		top := a.Top(OneMinute, "")
		if len(top.GetDomains()) != 2 || top.GetDomains()[0].GetDomain() != "payments" {
			t.Fatalf("domains = %v, want payments first of 2", top.GetDomains())
		}
		p := top.GetDomains()[0]
		tr := p.GetTraffic()
		checks := []struct {
			name      string
			got, want float64
		}{
			{"requests", float64(tr.GetRequests()), 6000},
			{"qps", tr.GetQps(), 100},
			{"errors", float64(tr.GetErrors()), 6},
			{"error rate", tr.GetErrorRate(), 0.001},
			{"timeouts", float64(tr.GetErrorsByKind()["timeout"]), 6},
			{"request bytes", float64(tr.GetRequestBytes()), 60000},
			{"reply bytes", float64(tr.GetReplyBytes()), 120000},
			{"connections", float64(p.GetConnections()), 42},
		}
		for _, ch := range checks {
			if !near(ch.got, ch.want) {
				t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
			}
		}
		// 90% of requests took 100µs and 10% 20ms: p50 is a fast bucket,
		// p99 a slow one, within a bucket's width (2^(1/4)).
		if got := tr.GetP50Seconds(); got < 100e-6/1.19 || got > 100e-6*1.19 {
			t.Errorf("p50 = %v, want about 100µs", got)
		}
		if got := tr.GetP99Seconds(); got < 20e-3/1.19 || got > 20e-3*1.19 {
			t.Errorf("p99 = %v, want about 20ms", got)
		}
		if len(p.GetCommands()) != 0 || len(p.GetHotKeys()) != 0 {
			t.Errorf("fleet view has drill-down rows")
		}
		if len(top.GetNodes()) != 2 || !near(top.GetNodes()[0].GetQps(), 91) || top.GetNodes()[1].GetConnections() != 2 {
			t.Errorf("nodes = %v", top.GetNodes())
		}
	})
	t.Run("drill-down", func(t *testing.T) {
		top := a.Top(OneMinute, "payments")
		if len(top.GetDomains()) != 1 {
			t.Fatalf("domains = %v, want payments only", top.GetDomains())
		}
		p := top.GetDomains()[0]
		cmds := p.GetCommands()
		if len(cmds) != 2 || cmds[0].GetCommand() != "GET" || cmds[0].GetTraffic().GetRequests() != 5400 ||
			cmds[1].GetCommand() != "SET" || !near(cmds[1].GetTraffic().GetErrorRate(), 0.01) {
			t.Fatalf("commands = %v", cmds)
		}
		hot := p.GetHotKeys()
		if len(hot) != 2 || hot[0].GetKey() != "user:2" || hot[0].GetCount() != 1100 || hot[1].GetCount() != 900 {
			t.Fatalf("hot keys = %v, want user:2 (1100) then user:1 (900)", hot)
		}
		if len(p.GetTracks()) != 1 || p.GetTracks()[0].GetTrack() != "stable" {
			t.Fatalf("tracks = %v", p.GetTracks())
		}
	})
	t.Run("node stats", func(t *testing.T) {
		qps, conns := a.NodeStats("proxy-1")
		if !near(qps, 91) || conns != 40 {
			t.Fatalf("NodeStats = %v, %d; want 91, 40", qps, conns)
		}
		if qps, conns := a.NodeStats("nobody"); qps != 0 || conns != 0 {
			t.Fatalf("unknown node = %v, %d", qps, conns)
		}
	})
}

func TestAggregatorWindowsAndAgeing(t *testing.T) {
	c := &clock{t: time.Unix(2_000_000, 0)}
	a := New(Options{Now: c.now, StaleAfter: 30 * time.Second})
	// proxy-1 reports every 10s for a minute and then stops; proxy-2
	// keeps reporting.
	for range 6 {
		c.advance(10 * time.Second)
		r := rep("proxy-1", 10*time.Second, c.t, cmd("payments", "GET", 100, time.Millisecond, nil))
		r.Domains = []*keywayv1.DomainGauge{{Domain: "payments", Connections: 5}}
		if err := a.Ingest(r); err != nil {
			t.Fatal(err)
		}
		if err := a.Ingest(rep("proxy-2", 10*time.Second, c.t, cmd("payments", "GET", 10, time.Millisecond, nil))); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		after    time.Duration // since the previous step
		window   time.Duration
		requests uint64
		conns    int64
		nodes    int
	}{
		{0, OneMinute, 660, 5, 2},
		{0, FiveMinutes, 660, 5, 2},
		// 40s later proxy-1's gauges are stale; its last 20s of
		// counts remain in the minute window.
		{40 * time.Second, OneMinute, 200 + 40 + 20, 0, 2},
		{0, FiveMinutes, 660 + 40, 0, 2},
		// Three minutes later only the five-minute window remembers it.
		{3 * time.Minute, OneMinute, 60, 0, 1},
		{0, FiveMinutes, 600 + 280, 0, 2},
		// After five minutes proxy-1 is gone.
		{2 * time.Minute, FiveMinutes, 300, 0, 1},
	}
	for i, s := range steps {
		for range int(s.after / (10 * time.Second)) {
			c.advance(10 * time.Second)
			if err := a.Ingest(rep("proxy-2", 10*time.Second, c.t, cmd("payments", "GET", 10, time.Millisecond, nil))); err != nil {
				t.Fatal(err)
			}
		}
		top := a.Top(s.window, "")
		var got uint64
		var conns int64
		if len(top.GetDomains()) > 0 {
			got = top.GetDomains()[0].GetTraffic().GetRequests()
			conns = top.GetDomains()[0].GetConnections()
		}
		if got != s.requests || conns != s.conns || len(top.GetNodes()) != s.nodes {
			t.Errorf("step %d (%v window): requests %d conns %d nodes %d; want %d %d %d",
				i, s.window, got, conns, len(top.GetNodes()), s.requests, s.conns, s.nodes)
		}
	}
}

func TestAggregatorRefusesAnonymousReports(t *testing.T) {
	if err := New(Options{}).Ingest(&keywayv1.ReportRequest{}); err == nil {
		t.Fatal("report without node_id was accepted")
	}
}
