package keyway_test

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keyway.dev/cli/internal/clitest"
	"keyway.dev/controlplane/telemetry"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// startTelemetry serves the control plane's real aggregator with one
// report of node proxy-1 already ingested: 5 GETs in domain web, one of
// them an upstream error.
func startTelemetry(t *testing.T) string {
	t.Helper()
	agg := telemetry.New(telemetry.Options{})
	now := time.Now()
	err := agg.Ingest(&keywayv1.ReportRequest{
		NodeId: "proxy-1",
		Start:  timestamppb.New(now.Add(-5 * time.Second)),
		End:    timestamppb.New(now),
		Commands: []*keywayv1.CommandStats{{
			Domain: "web", Track: "stable", Command: "GET", Upstream: "main", Requests: 5,
			Errors: map[string]uint64{"upstream": 1}, RequestBytes: 120, ReplyBytes: 55,
			Latency: &keywayv1.LatencyHistogram{Buckets: []uint64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5}, Count: 5},
		}},
		Domains: []*keywayv1.DomainGauge{{Domain: "web", Connections: 3}},
	})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	agg.Register(gs)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = gs.Serve(lis)
	}()
	t.Cleanup(func() {
		gs.Stop()
		<-done
	})
	return lis.Addr().String()
}

func TestTop(t *testing.T) {
	addr := startTelemetry(t)
	tests := []struct {
		name   string
		addr   string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{name: "one table", addr: addr, args: []string{"top", "--once"}, stdout: []string{"web", "proxy-1"}},
		{name: "json for scripts", addr: addr, args: []string{"top", "--once", "-o", "json"}, stdout: []string{`"domain": "web"`, `"requests": 5`}},
		{name: "drill-down", addr: addr, args: []string{"-o", "json", "top", "--domain", "web", "--once"}, stdout: []string{`"command": "GET"`, `"track": "stable"`}},
		{name: "json needs once", addr: addr, args: []string{"top", "-o", "json"}, code: 2, stderr: "-o json needs --once"},
		{name: "bad window", addr: addr, args: []string{"top", "--once", "--window", "3m"}, code: 2, stderr: `--window "3m"`},
		{name: "no arguments", addr: addr, args: []string{"top", "web"}, code: 2},
		{name: "control plane down", addr: clitest.DeadAddr(t), args: []string{"top", "--once"}, code: 1, stderr: "cannot reach the control plane at"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := clitest.Run(t, tc.addr, tc.args...)
			if r.Code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.Code, tc.code, r.Stdout, r.Stderr)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(r.Stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, r.Stdout)
				}
			}
			if !strings.Contains(r.Stderr, tc.stderr) {
				t.Errorf("stderr %q lacks %q", r.Stderr, tc.stderr)
			}
			if tc.code == 0 && strings.Contains(strings.Join(tc.args, " "), "json") && !json.Valid([]byte(r.Stdout)) {
				t.Errorf("stdout is not JSON:\n%s", r.Stdout)
			}
		})
	}
}
