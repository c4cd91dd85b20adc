package server_test

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	"keyway.dev/controlplane/metrics"
	"keyway.dev/controlplane/server"
	"keyway.dev/controlplane/xds/xdstest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func scrape(t *testing.T, h http.Handler, accept string) (string, http.Header) {
	t.Helper()
	req := httptest.NewRequest("GET", "/metrics", nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String(), rec.Header()
}

// value returns the sample of the exposition line starting with series.
func value(body, series string) string {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			return rest
		}
	}
	return ""
}

// What a control plane does shows in its metrics: admin calls by method
// and code, renders, activations and their snapshot build, the proxies
// connected, their ACKs of a push, and its build.
func TestControlPlaneMetrics(t *testing.T) {
	m := metrics.New()
	srv, err := server.New(server.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	cc, err := grpc.NewClient(srv.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	pol := keywayv1.NewPolicyServiceClient(cc)
	if _, err := pol.Push(ctx, &keywayv1.PushRequest{Bundle: bundle(policyV1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := pol.Push(ctx, &keywayv1.PushRequest{Bundle: bundle(policyBad), Parent: 1}); err == nil {
		t.Fatal("bad policy pushed")
	}

	sim := &xdstest.Sim{ID: "proxy-1"}
	simCtx, stopSim := context.WithCancel(ctx)
	defer stopSim()
	go sim.Run(simCtx, cc)
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				body, _ := scrape(t, m.Handler(), "")
				t.Fatalf("never %s; metrics:\n%s", what, body)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("applied v1", func() bool {
		for _, v := range sim.Versions() {
			if strings.HasPrefix(v, "v1-") {
				return true
			}
		}
		return false
	})
	// v1 was published before or after the simulated proxy connected,
	// depending on scheduling, so it may or may not have been observed;
	// v2 must add exactly one observation.
	acks := func() int {
		body, _ := scrape(t, m.Handler(), "")
		n, _ := strconv.Atoi(value(body, "keyway_control_push_ack_duration_seconds_count"))
		return n
	}
	before := acks()
	if _, err := pol.Push(ctx, &keywayv1.PushRequest{Bundle: bundle(policyV2), Parent: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor("a push-to-ACK observation of v2", func() bool { return acks() == before+1 })

	// A rollout of v3 to domain web shows its state and canary share.
	if _, err := pol.Push(ctx, &keywayv1.PushRequest{Bundle: bundle(strings.Replace(policyV2, "6401", "6402", 1)), Parent: 2, NoActivate: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := keywayv1.NewRolloutServiceClient(cc).StartRollout(ctx, &keywayv1.StartRolloutRequest{
		Domain: "web", ToVersion: 3, Steps: []uint32{10, 100}, Interval: durationpb.New(time.Hour)}); err != nil {
		t.Fatalf("start rollout: %v", err)
	}

	body, _ := scrape(t, m.Handler(), "")
	for series, want := range map[string]string{
		`keyway_control_rollout_state{domain="web",state="running"}`:                             "1",
		`keyway_control_rollout_canary_percent{domain="web"}`:                                    "10",
		`keyway_control_connected_proxies`:                                                       "1",
		`keyway_control_activations_total`:                                                       "2",
		`keyway_control_active_version`:                                                          "2",
		`keyway_control_snapshot_build_duration_seconds_count`:                                   "2",
		`keyway_control_grpc_requests_total{code="OK",method="PolicyService/Push"}`:              "3",
		`keyway_control_grpc_requests_total{code="InvalidArgument",method="PolicyService/Push"}`: "1",
		`keyway_control_render_duration_seconds_count{result="ok"}`:                              "3",
		`keyway_control_render_duration_seconds_count{result="error"}`:                           "1",
		`keyway_control_rollout_leader`:                                                          "1",
	} {
		if got := value(body, series); got != want {
			t.Errorf("%s = %q, want %q", series, got, want)
		}
	}
	for _, re := range []string{`(?m)^keyway_build_info\{.*program="keyway-control".*\} 1$`, `(?m)^go_goroutines \d+`, `(?m)^process_resident_memory_bytes `} {
		if !regexp.MustCompile(re).MatchString(body) {
			t.Errorf("metrics lack %s", re)
		}
	}

	// The handler negotiates OpenMetrics and gzip as client_golang's does.
	om, hdr := scrape(t, m.Handler(), "application/openmetrics-text;version=1.0.0")
	if !strings.HasPrefix(hdr.Get("Content-Type"), "application/openmetrics-text") || !strings.HasSuffix(om, "# EOF\n") {
		t.Errorf("OpenMetrics not negotiated: %q", hdr.Get("Content-Type"))
	}
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, req)
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip not negotiated: %v", rec.Header())
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(zr); err != nil || !strings.Contains(string(b), "keyway_control_connected_proxies 1") {
		t.Fatalf("gzipped body: %v", err)
	}
}
