package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/redistest"
)

// scrapeProxy fetches and parses the proxy's /metrics.
func scrapeProxy(t *testing.T, admin string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatalf("get /metrics: %v", err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// sum adds the samples of family name whose labels include want.
func sum(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	var total float64
next:
	for _, m := range fams[name].GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.GetCounter() != nil:
			total += m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			total += m.GetGauge().GetValue()
		case m.GetHistogram() != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}

func TestMetricsCountWhatWasServed(t *testing.T) {
	r := redistest.Start(t)
	for _, tc := range []struct {
		name     string
		flags    []string
		counting bool
	}{
		{"telemetry on", nil, true},
		{"telemetry off", []string{"--telemetry=false"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, admin, _ := startRun(t, append([]string{"--upstream", r.Addr}, tc.flags...)...)
			waitHTTP(t, "http://"+admin+"/readyz", http.StatusOK)
			rdb := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, PoolSize: 1})
			defer rdb.Close()
			ctx := context.Background()
			for i := range 3 {
				if err := rdb.Set(ctx, fmt.Sprintf("k%d", i), "v", 0).Err(); err != nil {
					t.Fatalf("set: %v", err)
				}
			}
			for range 2 {
				if err := rdb.Get(ctx, "k0").Err(); err != nil {
					t.Fatalf("get: %v", err)
				}
			}
			if err := rdb.Incr(ctx, "k0").Err(); err == nil {
				t.Fatal("INCR of a string succeeded")
			}
			fams := scrapeProxy(t, admin)
			want := map[string]float64{"SET": 3, "GET": 2, "INCR": 1}
			for cmd, n := range want {
				if !tc.counting {
					n = 0
				}
				labels := map[string]string{"domain": "default", "command": cmd, "track": "stable", "upstream": "redis"}
				if got := sum(fams, "keyway_requests_total", labels); got != n {
					t.Errorf("keyway_requests_total %v = %v, want %v", labels, got, n)
				}
			}
			// The latency histogram folds commands by default.
			folded := 6.0
			if !tc.counting {
				folded = 0
			}
			hist := map[string]string{"domain": "default", "track": "stable", "upstream": "redis"}
			if got := sum(fams, "keyway_request_duration_seconds", hist); got != folded {
				t.Errorf("keyway_request_duration_seconds count %v = %v, want %v", hist, got, folded)
			}
			errs := 0.0
			conns := 0.0
			if tc.counting {
				errs, conns = 1, 1
			}
			if got := sum(fams, "keyway_request_errors_total", map[string]string{"command": "INCR", "kind": "upstream"}); got != errs {
				t.Errorf("upstream errors of INCR = %v, want %v", got, errs)
			}
			if got := sum(fams, "keyway_connections", map[string]string{"domain": "default"}); got != conns {
				t.Errorf("connections in default = %v, want %v", got, conns)
			}
			// The policy gauges do not depend on per-command counting.
			if got := sum(fams, "keyway_policy_info", map[string]string{"version": "standalone", "domain": ""}); got != 1 {
				t.Errorf("keyway_policy_info{version=standalone} = %v, want 1", got)
			}
			if got := sum(fams, "keyway_policy_info", map[string]string{"domain": "default", "track": "stable", "version": "standalone"}); got != 1 {
				t.Errorf("keyway_policy_info{domain=default,track=stable,version=standalone} = %v, want 1", got)
			}
			if got := sum(fams, "keyway_reloads_total", nil); got != 1 {
				t.Errorf("keyway_reloads_total = %v, want 1", got)
			}
			if got := sum(fams, "keyway_server_clients", nil); got != 1 {
				t.Errorf("keyway_server_clients = %v, want 1", got)
			}
			if got := sum(fams, "keyway_upstream_connections", map[string]string{"upstream": "redis", "node": r.Addr}); got < 1 {
				t.Errorf("keyway_upstream_connections of redis at %s = %v, want at least 1", r.Addr, got)
			}
		})
	}
}

func TestKnownCommand(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"GET", true},
		{"CLIENT|SETNAME", true},
		{"KEYWAY.LOCK", true},
		{"NOSUCH", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := knownCommand(tc.name); got != tc.want {
				t.Fatalf("knownCommand(%q) = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}

func TestPolicyVersion(t *testing.T) {
	tests := []struct{ in, want string }{
		{"v3-0123abcd", "v3"},
		{"v12-020ffafa", "v12"},
		{"standalone", "standalone"},
		{"file:/tmp/my-policy", "file:/tmp/my-policy"},
		{"v3-", "v3-"},
		{"vx-0123", "vx-0123"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := policyVersion(tc.in); got != tc.want {
				t.Fatalf("policyVersion(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
