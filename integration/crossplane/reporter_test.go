package crossplane_test

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"

	"keyway.dev/controlplane/telemetry"
	"keyway.dev/dataplane/engine"
	dtel "keyway.dev/dataplane/telemetry"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// serve runs a gRPC server with a's services on ln until the test ends or
// the returned stop is called.
func serve(t *testing.T, a *telemetry.Aggregator, ln net.Listener) (stop func()) {
	t.Helper()
	s := grpc.NewServer()
	a.Register(s)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(ln) // returns when stopped
	}()
	stop = func() {
		s.Stop()
		<-done
	}
	t.Cleanup(stop)
	return stop
}

// dial connects to addr and retries quickly, so a test does not wait out
// gRPC's default reconnect backoff after a restart.
func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{BaseDelay: 10 * time.Millisecond, Multiplier: 1, MaxDelay: 10 * time.Millisecond}}))
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// waitReady blocks until cc has reconnected, so the next flush does not
// fail fast on a connection still in backoff.
func waitReady(t *testing.T, cc *grpc.ClientConn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cc.Connect()
	for s := cc.GetState(); s != connectivity.Ready; s = cc.GetState() {
		if !cc.WaitForStateChange(ctx, s) {
			t.Fatalf("connection stuck in %v", s)
		}
	}
}

// requests is what the fleet view says domain/command did in the last
// five minutes.
func requests(a *telemetry.Aggregator, domain, command string) uint64 {
	for _, d := range a.Top(telemetry.FiveMinutes, domain).GetDomains() {
		for _, c := range d.GetCommands() {
			if c.GetCommand() == command {
				return c.GetTraffic().GetRequests()
			}
		}
	}
	return 0
}

func observe(rec *dtel.Recorder, domain, command string, n int, kind engine.ErrorKind) {
	for range n {
		rec.Observe(domain, "stable", command, "main", kind, 10, 20, 200*time.Microsecond)
	}
}

func TestReporterDeliversExactCounts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := telemetry.New(telemetry.Options{})
	serve(t, a, ln)
	rec := dtel.New(dtel.Options{HotKeySample: 1})
	rep := dtel.NewReporter(rec, keywayv1.NewTelemetryServiceClient(dial(t, ln.Addr().String())),
		dtel.ReporterOptions{NodeID: "proxy-1", Interval: 10 * time.Second})
	ctx := context.Background()

	rounds := []struct {
		payGET, paySET, searchGET int
	}{
		{1000, 10, 7},
		{0, 5, 0}, // unchanged series are left out of the report
		{333, 0, 1},
	}
	var wantPayGET, wantPaySET, wantSearch uint64
	for i, r := range rounds {
		observe(rec, "payments", "GET", r.payGET, engine.KindNone)
		observe(rec, "payments", "SET", r.paySET, engine.KindTimeout)
		observe(rec, "search", "GET", r.searchGET, engine.KindNone)
		rec.ObserveKey("payments", []byte("user:42"))
		rec.ConnOpened("payments")
		if err := rep.Flush(ctx); err != nil {
			t.Fatalf("round %d: flush: %v", i, err)
		}
		wantPayGET += uint64(r.payGET)
		wantPaySET += uint64(r.paySET)
		wantSearch += uint64(r.searchGET)
		checks := []struct {
			domain, command string
			want            uint64
		}{
			{"payments", "GET", wantPayGET},
			{"payments", "SET", wantPaySET},
			{"search", "GET", wantSearch},
		}
		for _, c := range checks {
			if got := requests(a, c.domain, c.command); got != c.want {
				t.Errorf("round %d: %s %s = %d requests, want %d", i, c.domain, c.command, got, c.want)
			}
		}
	}
	p := a.Top(telemetry.FiveMinutes, "payments").GetDomains()[0]
	if p.GetConnections() != int64(len(rounds)) {
		t.Errorf("connections = %d, want %d", p.GetConnections(), len(rounds))
	}
	if p.GetTraffic().GetErrorsByKind()["timeout"] != wantPaySET {
		t.Errorf("timeouts = %v, want %d", p.GetTraffic().GetErrorsByKind(), wantPaySET)
	}
	if hot := p.GetHotKeys(); len(hot) != 1 || hot[0].GetKey() != "user:42" || hot[0].GetCount() != uint64(len(rounds)) {
		t.Errorf("hot keys = %v, want user:42 x%d", hot, len(rounds))
	}
}

func TestReporterFoldsWhileControlPlaneIsDown(t *testing.T) {
	// Reserve an address, then leave nothing listening on it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	a := telemetry.New(telemetry.Options{})
	rec := dtel.New(dtel.Options{})
	cc := dial(t, addr)
	rep := dtel.NewReporter(rec, keywayv1.NewTelemetryServiceClient(cc),
		dtel.ReporterOptions{NodeID: "proxy-1", Interval: 5 * time.Second})
	ctx := context.Background()

	const outages = 3
	for i := range outages {
		observe(rec, "payments", "GET", 100, engine.KindNone)
		if err := rep.Flush(ctx); err == nil {
			t.Fatalf("flush %d succeeded with no control plane", i)
		}
	}
	// The data path kept counting the whole time.
	if got := rec.Snapshot()[0].Requests(); got != outages*100 {
		t.Fatalf("recorder counted %d, want %d", got, outages*100)
	}

	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	serve(t, a, ln)
	waitReady(t, cc)
	observe(rec, "payments", "GET", 1, engine.KindNone)
	if err := rep.Flush(ctx); err != nil {
		t.Fatalf("flush with the control plane back: %v", err)
	}
	const folded = outages
	if got := requests(a, "payments", "GET"); got != outages*100+1 {
		t.Fatalf("delivered %d requests after the outage, want %d", got, outages*100+1)
	}
	nodes := a.Top(telemetry.FiveMinutes, "").GetNodes()
	if len(nodes) != 1 || nodes[0].GetFoldedIntervals() != uint64(folded) {
		t.Fatalf("nodes = %v, want proxy-1 with %d folded intervals", nodes, folded)
	}
}

func TestReporterDropsPastMaxFold(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	rec := dtel.New(dtel.Options{})
	cc := dial(t, addr)
	rep := dtel.NewReporter(rec, keywayv1.NewTelemetryServiceClient(cc),
		dtel.ReporterOptions{NodeID: "proxy-1", Interval: 5 * time.Second, MaxFold: 2})
	// Three failures with MaxFold 2: the third drops the three intervals.
	for range 3 {
		observe(rec, "payments", "GET", 10, engine.KindNone)
		if err := rep.Flush(context.Background()); err == nil {
			t.Fatal("flush succeeded with no control plane")
		}
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	a := telemetry.New(telemetry.Options{})
	serve(t, a, ln)
	waitReady(t, cc)
	observe(rec, "payments", "GET", 1, engine.KindNone)
	if err := rep.Flush(context.Background()); err != nil {
		t.Fatalf("flush with the control plane back: %v", err)
	}
	if got := requests(a, "payments", "GET"); got != 1 {
		t.Fatalf("delivered %d requests, want only the 1 after the drop", got)
	}
}

func TestReporterRunFlushesOnStop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := telemetry.New(telemetry.Options{})
	serve(t, a, ln)
	rec := dtel.New(dtel.Options{})
	rep := dtel.NewReporter(rec, keywayv1.NewTelemetryServiceClient(dial(t, ln.Addr().String())),
		dtel.ReporterOptions{NodeID: "proxy-1", Interval: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		rep.Run(ctx)
	}()
	// Counts land in whichever ticks happen to run; the final flush on
	// stop delivers the rest, so the total is exact.
	observe(rec, "payments", "GET", 500, engine.KindNone)
	observe(rec, "payments", "GET", 500, engine.KindNone)
	cancel()
	<-stopped
	if got := requests(a, "payments", "GET"); got != 1000 {
		t.Fatalf("delivered %d requests, want 1000", got)
	}
}
