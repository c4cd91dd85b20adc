package telemetry

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"keyway.dev/controlplane/etcdtest"
	"keyway.dev/controlplane/store"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// testShare is how often replicas write in these tests; their slots
// outlive a stopped replica by a second, etcd's shortest lease.
var testShare = ShareOptions{Interval: 20 * time.Millisecond, TTL: time.Second}

// share runs agg as replica name of fleet "t" until the test ends or the
// returned stop is called.
func share(t *testing.T, e *store.Embedded, agg *Aggregator, name string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := agg.Share(ctx, e.Client(), "t", name, testShare); err != nil {
			t.Errorf("share %s: %v", name, err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	// Reports ingested before a replica shares are its own only.
	waitFor(t, name+" to share", func() error {
		agg.mu.Lock()
		defer agg.mu.Unlock()
		if agg.pending == nil {
			return fmt.Errorf("not sharing yet")
		}
		return nil
	})
	return stop
}

// trackReading is what agg's guards read for domain d's track since a
// point in time, as rollout.FromTopSince reads it.
func trackReading(agg *Aggregator, d, track string, window time.Duration, since time.Time) *keywayv1.Traffic {
	for _, dom := range agg.TopSince(window, since, d).GetDomains() {
		for _, tr := range dom.GetTracks() {
			if tr.GetTrack() == track {
				return tr.GetTraffic()
			}
		}
	}
	return &keywayv1.Traffic{}
}

// byTrack is what agg counts for domain d in the last minute, by track.
func byTrack(agg *Aggregator, d string) string {
	out := map[string]uint64{}
	for _, dom := range agg.Top(OneMinute, d).GetDomains() {
		for _, tr := range dom.GetTracks() {
			out[tr.GetTrack()] = tr.GetTraffic().GetRequests()
		}
	}
	return fmt.Sprint(out)
}

func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func canaryCmd(domain string, n int, errs map[string]uint64) *keywayv1.CommandStats {
	c := cmd(domain, "GET", n, 4*time.Millisecond, errs)
	c.Track = "canary"
	return c
}

// slotKeys lists the slots in etcd, by replica.
func slotKeys(t *testing.T, cli *clientv3.Client) map[string]int {
	t.Helper()
	resp, err := cli.Get(context.Background(), "/keyway/t/telemetry/replicas/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, kv := range resp.Kvs {
		r, _, _ := strings.Cut(strings.TrimPrefix(string(kv.Key), "/keyway/t/telemetry/replicas/"), "/")
		out[r]++
	}
	return out
}

func TestShareCountsTheWholeFleetOnce(t *testing.T) {
	e := etcdtest.Start(t)
	a, b := New(Options{}), New(Options{})
	share(t, e, a, "host/127.0.0.1:1")
	share(t, e, b, "host/127.0.0.1:2")
	// The reports below began 100ms before they arrive, after since.
	since := time.Now().Add(-time.Second)

	// Proxy p1 reports to replica a, p2 and p3 to b; only b's see the
	// canary, and it fails a third of the time.
	r1 := rep("p1", 100*time.Millisecond, time.Now(), cmd("web", "GET", 100, time.Millisecond, nil))
	r1.Domains = []*keywayv1.DomainGauge{{Domain: "web", Connections: 5}}
	r2 := rep("p2", 100*time.Millisecond, time.Now(), cmd("web", "GET", 50, time.Millisecond, nil), canaryCmd("web", 30, map[string]uint64{"upstream": 10}))
	r2.Domains = []*keywayv1.DomainGauge{{Domain: "web", Connections: 7}}
	r2.HotKeys = []*keywayv1.HotKey{{Domain: "web", Key: "user:1", Count: 9}}
	r3 := rep("p3", 100*time.Millisecond, time.Now(), canaryCmd("web", 30, nil))
	for r, agg := range map[*keywayv1.ReportRequest]*Aggregator{r1: a, r2: b, r3: b} {
		if err := agg.Ingest(r); err != nil {
			t.Fatal(err)
		}
	}
	want := fmt.Sprint(map[string]uint64{"canary": 60, "stable": 150})
	for name, agg := range map[string]*Aggregator{"a": a, "b": b} {
		waitFor(t, "replica "+name+" to see every proxy", func() error {
			if got := byTrack(agg, "web"); got != want {
				return fmt.Errorf("requests by track %s, want %s", got, want)
			}
			return nil
		})
	}

	// Replica a's guards see the canary errors reported to b, with the
	// latency histogram merged, not averaged.
	c := trackReading(a, "web", "canary", time.Minute, since)
	if c.GetErrors() != 10 || !near(c.GetErrorRate(), 10.0/60) {
		t.Errorf("a reads canary errors %d (rate %v), want 10 of 60", c.GetErrors(), c.GetErrorRate())
	}
	if p99 := c.GetP99Seconds(); p99 < 0.003 || p99 > 0.005 {
		t.Errorf("a reads canary p99 %vs, want about 4ms", p99)
	}
	if s := trackReading(a, "web", "stable", time.Minute, since); s.GetRequests() != 150 || s.GetErrors() != 0 {
		t.Errorf("a reads stable %d requests, %d errors; want 150, 0", s.GetRequests(), s.GetErrors())
	}
	// Traffic that began before since is not the rollout's.
	if got := trackReading(a, "web", "canary", time.Minute, time.Now().Add(time.Hour)).GetRequests(); got != 0 {
		t.Errorf("a counts %d canary requests that began before since", got)
	}

	// Nothing counts twice: neither replica writes what it learnt from the
	// other, nor counts its own slots. Once a has a later report of b's,
	// every earlier slot of both has been written and read.
	r2 = rep("p2", time.Second, time.Now(), cmd("web", "SET", 1, time.Millisecond, nil))
	r2.Domains = []*keywayv1.DomainGauge{{Domain: "web", Connections: 7}}
	if err := b.Ingest(r2); err != nil {
		t.Fatal(err)
	}
	r1 = rep("p1", time.Second, time.Now(), cmd("web", "SET", 1, time.Millisecond, nil))
	r1.Domains = []*keywayv1.DomainGauge{{Domain: "web", Connections: 5}}
	if err := a.Ingest(r1); err != nil {
		t.Fatal(err)
	}
	want = fmt.Sprint(map[string]uint64{"canary": 60, "stable": 152})
	for name, agg := range map[string]*Aggregator{"a": a, "b": b} {
		waitFor(t, "replica "+name+" to see the SETs", func() error {
			if got := byTrack(agg, "web"); got != want {
				return fmt.Errorf("requests by track %s, want %s", got, want)
			}
			return nil
		})
	}
	for i := range 3 {
		// Rounds of sharing add only what was reported since: a SET on
		// each replica per round, seen by both as exactly two more, so
		// slots rewritten or read again are not counted again (a count
		// above the sum never comes back down to it).
		for _, p := range []struct {
			id    string
			conns int64
			agg   *Aggregator
		}{{"p1", 5, a}, {"p2", 7, b}} {
			r := rep(p.id, time.Second, time.Now(), cmd("web", "SET", 1, time.Millisecond, nil))
			r.Domains = []*keywayv1.DomainGauge{{Domain: "web", Connections: p.conns}}
			if err := p.agg.Ingest(r); err != nil {
				t.Fatal(err)
			}
		}
		want = fmt.Sprint(map[string]uint64{"canary": 60, "stable": uint64(154 + 2*i)})
		for name, agg := range map[string]*Aggregator{"a": a, "b": b} {
			waitFor(t, fmt.Sprintf("round %d: replica %s to count both SETs once", i, name), func() error {
				if got := byTrack(agg, "web"); got != want {
					return fmt.Errorf("requests by track %s, want %s", got, want)
				}
				return nil
			})
		}
	}

	// Both replicas list the three proxies with their connections, and
	// the drill-down has b's hot key and commands on a.
	for name, agg := range map[string]*Aggregator{"a": a, "b": b} {
		top := agg.Top(OneMinute, "web")
		var ids []string
		for _, n := range top.GetNodes() {
			ids = append(ids, n.GetNodeId())
		}
		if fmt.Sprint(ids) != "[p1 p2 p3]" {
			t.Errorf("replica %s lists nodes %v, want p1 p2 p3", name, ids)
		}
		d := top.GetDomains()[0]
		if d.GetConnections() != 12 {
			t.Errorf("replica %s counts %d connections, want 12", name, d.GetConnections())
		}
		if hot := d.GetHotKeys(); len(hot) != 1 || hot[0].GetKey() != "user:1" || hot[0].GetCount() != 9 {
			t.Errorf("replica %s hot keys %v, want user:1 x9", name, hot)
		}
		if cs := d.GetCommands(); len(cs) != 2 || cs[0].GetCommand() != "GET" || cs[0].GetTraffic().GetRequests() != 210 {
			t.Errorf("replica %s commands %v, want GET 210 and SET", name, cs)
		}
		if _, conns := agg.NodeStats("p2"); conns != 7 {
			t.Errorf("replica %s: p2 has %d connections, want 7", name, conns)
		}
		if qps, _ := agg.NodeStats("p3"); qps <= 0 {
			t.Errorf("replica %s: p3 has no request rate", name)
		}
	}
}

// A replica that stops writing (here: its Share ends without a word, as
// in a crash) no longer counts anywhere once its lease runs out.
func TestShareForgetsAStoppedReplica(t *testing.T) {
	e := etcdtest.Start(t)
	a, b := New(Options{}), New(Options{})
	share(t, e, a, "a")
	stopB := share(t, e, b, "b")
	if err := a.Ingest(rep("p1", time.Second, time.Now(), canaryCmd("web", 4, nil))); err != nil {
		t.Fatal(err)
	}
	if err := b.Ingest(rep("p2", time.Second, time.Now(), canaryCmd("web", 6, map[string]uint64{"timeout": 6}))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a to count b's proxy", func() error {
		if got := trackReading(a, "web", "canary", time.Minute, time.Time{}); got.GetRequests() != 10 || got.GetErrors() != 6 {
			return fmt.Errorf("%d requests, %d errors; want 10, 6", got.GetRequests(), got.GetErrors())
		}
		return nil
	})
	if n := slotKeys(t, e.Client())["b"]; n == 0 {
		t.Fatal("b has no slots in etcd")
	}

	stopB()
	waitFor(t, "b's slots to expire with its lease", func() error {
		if n := slotKeys(t, e.Client())["b"]; n > 0 {
			return fmt.Errorf("b still has %d slots", n)
		}
		return nil
	})
	waitFor(t, "a to forget b's proxy", func() error {
		if got := trackReading(a, "web", "canary", time.Minute, time.Time{}); got.GetRequests() != 4 || got.GetErrors() != 0 {
			return fmt.Errorf("%d requests, %d errors; want a's own 4, 0", got.GetRequests(), got.GetErrors())
		}
		return nil
	})
	if ids := nodeIDs(a); fmt.Sprint(ids) != "[p1]" {
		t.Errorf("a lists nodes %v, want only p1", ids)
	}
	// a itself keeps writing: its slots stay.
	if n := slotKeys(t, e.Client())["a"]; n == 0 {
		t.Error("a's slots expired although a runs")
	}
}

func nodeIDs(agg *Aggregator) []string {
	var ids []string
	for _, n := range agg.Top(OneMinute, "").GetNodes() {
		ids = append(ids, n.GetNodeId())
	}
	return ids
}

// A replica that starts late reads the others' recent slots at once,
// rather than only what they write from then on.
func TestShareLateReplicaReadsRecentSlots(t *testing.T) {
	e := etcdtest.Start(t)
	a := New(Options{})
	share(t, e, a, "a")
	if err := a.Ingest(rep("p1", time.Second, time.Now(), canaryCmd("web", 8, nil))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a to write a slot", func() error {
		if slotKeys(t, e.Client())["a"] == 0 {
			return fmt.Errorf("no slot yet")
		}
		return nil
	})
	c := New(Options{})
	share(t, e, c, "c")
	waitFor(t, "c to read a's slot", func() error {
		if got := byTrack(c, "web"); got != "map[canary:8]" {
			return fmt.Errorf("requests by track %s, want canary:8", got)
		}
		return nil
	})
	// A restarted replica starts with an empty aggregator: it reads what
	// it wrote in its previous run (here: still running) like anyone's.
	a2 := New(Options{})
	share(t, e, a2, "a")
	waitFor(t, "a's next run to read its previous run's slot", func() error {
		if got := byTrack(a2, "web"); got != "map[canary:8]" {
			return fmt.Errorf("requests by track %s, want canary:8", got)
		}
		return nil
	})
	if got := byTrack(a, "web"); got != "map[canary:8]" {
		t.Errorf("a counts %s, want only its own canary:8", got)
	}
}

// When etcd loses a replica's lease (a partition longer than the TTL),
// the replica writes its recent slots again under a new one.
func TestShareRewritesSlotsAfterALostLease(t *testing.T) {
	e := etcdtest.Start(t)
	a, b := New(Options{}), New(Options{})
	share(t, e, a, "a")
	share(t, e, b, "b")
	if err := b.Ingest(rep("p2", time.Second, time.Now(), canaryCmd("web", 3, nil))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a to count b's proxy", func() error {
		if got := byTrack(a, "web"); got != "map[canary:3]" {
			return fmt.Errorf("requests by track %s, want canary:3", got)
		}
		return nil
	})
	resp, err := e.Client().Get(context.Background(), "/keyway/t/telemetry/replicas/b/", clientv3.WithPrefix())
	if err != nil || len(resp.Kvs) == 0 {
		t.Fatalf("b's slots: %v, %v", resp, err)
	}
	lease := clientv3.LeaseID(resp.Kvs[0].Lease)
	if _, err := e.Client().Revoke(context.Background(), lease); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to write its slot again under a new lease", func() error {
		resp, err := e.Client().Get(context.Background(), "/keyway/t/telemetry/replicas/b/", clientv3.WithPrefix())
		if err != nil {
			return err
		}
		if len(resp.Kvs) == 0 || clientv3.LeaseID(resp.Kvs[0].Lease) == lease {
			return fmt.Errorf("%d slots, still under the revoked lease %x", len(resp.Kvs), lease)
		}
		return nil
	})
	waitFor(t, "a to count b's proxy again", func() error {
		if got := byTrack(a, "web"); got != "map[canary:3]" {
			return fmt.Errorf("requests by track %s, want canary:3", got)
		}
		return nil
	})
}

func TestShareIgnoresMalformedSlots(t *testing.T) {
	e := etcdtest.Start(t)
	a, b := New(Options{}), New(Options{})
	share(t, e, a, "a")
	if _, err := e.Client().Put(context.Background(), "/keyway/t/telemetry/replicas/intruder/1", "\xff\xff garbage"); err != nil {
		t.Fatal(err)
	}
	share(t, e, b, "b") // lists the garbage
	if _, err := e.Client().Put(context.Background(), "/keyway/t/telemetry/replicas/intruder/2", "\x02\x08\x01"); err != nil {
		t.Fatal(err) // watched: a well-framed report that names a node first
	}
	if err := a.Ingest(rep("p1", time.Second, time.Now(), cmd("web", "SET", 4, time.Millisecond, nil))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to still read a's slots", func() error {
		if got := byTrack(b, "web"); got != "map[stable:4]" {
			return fmt.Errorf("requests by track %s, want stable:4", got)
		}
		return nil
	})
	if ids := nodeIDs(b); fmt.Sprint(ids) != "[p1]" {
		t.Errorf("b lists nodes %v, want p1", ids)
	}
}

func TestShareNeedsAName(t *testing.T) {
	e := etcdtest.Start(t)
	if err := New(Options{}).Share(context.Background(), e.Client(), "t", "", testShare); err == nil {
		t.Fatal("a replica without a name shares")
	}
}

func TestSlotRoundTrip(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	acc := newSlotAcc()
	agg := New(Options{Now: func() time.Time { return now }})
	agg.pending = acc
	r1 := rep("p1", 5*time.Second, now, cmd("web", "GET", 10, time.Millisecond, map[string]uint64{"timeout": 2}), canaryCmd("web", 3, nil))
	r1.Domains = []*keywayv1.DomainGauge{{Domain: "web", Connections: 2}}
	r1.FoldedIntervals = 1
	r2 := rep("p2", 2*time.Second, now, cmd("web", "GET", 5, 3*time.Millisecond, nil))
	r2.HotKeys = []*keywayv1.HotKey{{Domain: "web", Key: "k", Count: 4}}
	for _, r := range []*keywayv1.ReportRequest{r1, r2} {
		if err := agg.Ingest(r); err != nil {
			t.Fatal(err)
		}
	}
	b, collapsed, err := acc.encode(now.Add(time.Second))
	if err != nil || collapsed {
		t.Fatalf("encode: collapsed %v, %v", collapsed, err)
	}
	got, err := decodeSlot("k", b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.at.Equal(now.Add(time.Second)) || got.covers != 6*time.Second {
		t.Errorf("slot at %v covering %v, want %v covering 6s", got.at, got.covers, now.Add(time.Second))
	}
	rows := map[string]string{}
	for _, c := range got.commands {
		rows[c.GetTrack()+" "+c.GetCommand()] = fmt.Sprintf("%d %v %d %d", c.GetRequests(), c.GetErrors(), c.GetRequestBytes(), c.GetLatency().GetCount())
	}
	if want := map[string]string{"stable GET": "15 map[timeout:2] 150 15", "canary GET": "3 map[] 30 3"}; fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("rows %v, want %v", rows, want)
	}
	if len(got.hot) != 1 || got.hot[0].GetCount() != 4 {
		t.Errorf("hot keys %v", got.hot)
	}
	nodes := got.nodes
	if p1 := nodes["p1"]; len(nodes) != 2 || p1.requests != 13 || p1.conns["web"] != 2 || p1.folded != 1 || !p1.last.Equal(now) {
		t.Errorf("nodes %+v", nodes)
	}
	if _, err := decodeSlot("k", b[:len(b)-3]); err == nil {
		t.Error("a truncated slot decodes")
	}
}

// A slot with more commands than fits in an etcd request keeps every
// request, per domain and track.
func TestSlotTooLargeKeepsTrackTotals(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	acc := newSlotAcc()
	var want uint64
	for d := range 40 {
		var cmds []*keywayv1.CommandStats
		for c := range 200 {
			cmds = append(cmds, cmd(fmt.Sprintf("domain-%d", d), fmt.Sprintf("COMMAND-%d", c), 1+c%3, time.Duration(1+c)*time.Microsecond, nil),
				canaryCmd(fmt.Sprintf("domain-%d", d), 1, map[string]uint64{"upstream": 1}))
			want += uint64(1 + c%3)
		}
		r := rep(fmt.Sprintf("p%d", d), time.Second, now, cmds...)
		acc.add(r, report{at: now, covers: time.Second, commands: r.GetCommands()}, now, nil)
	}
	b, collapsed, err := acc.encode(now)
	if err != nil {
		t.Fatal(err)
	}
	if !collapsed || len(b) > maxSlotBytes {
		t.Fatalf("slot of %d bytes, collapsed %v", len(b), collapsed)
	}
	got, err := decodeSlot("k", b)
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]uint64{}
	var canaryErrs uint64
	for _, c := range got.commands {
		if c.GetCommand() != "" {
			t.Fatalf("collapsed slot has a command row %v", c)
		}
		sums[c.GetTrack()] += c.GetRequests()
		canaryErrs += c.GetErrors()["upstream"]
	}
	if sums["stable"] != want || sums["canary"] != 40*200 || canaryErrs != 40*200 || len(got.commands) != 80 {
		t.Errorf("collapsed to %d rows: %v requests, %d canary errors; want 80 rows, stable %d, canary %d", len(got.commands), sums, canaryErrs, want, 40*200)
	}
	if names := slices.Sorted(maps.Keys(sums)); fmt.Sprint(names) != "[canary stable]" {
		t.Errorf("tracks %v", names)
	}
}
