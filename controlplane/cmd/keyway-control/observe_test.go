package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"keyway.dev/controlplane/metrics"
)

func TestLogFormat(t *testing.T) {
	var buf bytes.Buffer
	o := &observeFlags{logFormat: "json"}
	l, err := o.logger(&buf, slog.LevelInfo)
	if err != nil {
		t.Fatal(err)
	}
	l.Info("keyway-control serving", "addr", "127.0.0.1:7700")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["msg"] != "keyway-control serving" || rec["addr"] != "127.0.0.1:7700" {
		t.Fatalf("json log line %q: %v", buf.String(), err)
	}
	if _, err := (&observeFlags{logFormat: "xml"}).logger(&buf, slog.LevelInfo); err == nil {
		t.Fatal("xml accepted")
	}
}

// A log format or metrics address that cannot work stops the start with
// the flag named.
func TestObserveFlagErrors(t *testing.T) {
	dir := t.TempDir()
	base := []string{"--listen", "127.0.0.1:0", "--render", "inprocess", "--data-dir", filepath.Join(dir, "data")}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"log format", []string{"--log-format", "xml"}, 2, `--log-format: "xml" is neither text nor json`},
		{"metrics address", []string{"--metrics-listen", "256.0.0.1:1"}, 1, "--metrics-listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := realMain(append(append([]string{}, base...), tc.args...), &stdout, &stderr, func(string) string { return "" })
			if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr.String(), tc.code, tc.want)
			}
		})
	}
}

func TestProbeEndpoints(t *testing.T) {
	var ready atomic.Bool
	h := observeMux(metrics.New(), ready.Load)
	get := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code
	}
	if c := get("/healthz"); c != 200 {
		t.Errorf("/healthz = %d", c)
	}
	if c := get("/readyz"); c != 503 {
		t.Errorf("/readyz before ready = %d, want 503", c)
	}
	ready.Store(true)
	if c := get("/readyz"); c != 200 {
		t.Errorf("/readyz when ready = %d", c)
	}
	if c := get("/metrics"); c != 200 {
		t.Errorf("/metrics = %d", c)
	}
}
