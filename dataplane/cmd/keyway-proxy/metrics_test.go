package main

import (
	"compress/gzip"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"keyway.dev/dataplane/redistest"
)

// /metrics carries the Go and process collectors and keyway_build_info
// beside the proxy's own families, and negotiates gzip and OpenMetrics.
func TestMetricsEndpoint(t *testing.T) {
	r := redistest.Start(t)
	_, admin, _ := startRun(t, "--upstream", r.Addr)
	waitHTTP(t, "http://"+admin+"/readyz", http.StatusOK)

	get := func(accept string, gz bool) (string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+admin+"/metrics", nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		// Set explicitly, the transport leaves the body compressed.
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body := io.Reader(resp.Body)
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b), resp.Header
	}

	text, hdr := get("", false)
	if !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Errorf("content type %q", hdr.Get("Content-Type"))
	}
	for _, re := range []string{
		`(?m)^keyway_build_info\{.*program="keyway-proxy".*\} 1$`,
		`(?m)^go_goroutines \d+`,
		`(?m)^process_resident_memory_bytes `,
		`(?m)^keyway_server_ready 1$`,
		`(?m)^keyway_auth_failures_total 0$`,
		`(?m)^keyway_reloads_total `,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("/metrics lacks %s", re)
		}
	}

	om, hdr := get("application/openmetrics-text;version=1.0.0", true)
	if hdr.Get("Content-Encoding") != "gzip" {
		t.Errorf("gzip not negotiated: %v", hdr)
	}
	if !strings.HasPrefix(hdr.Get("Content-Type"), "application/openmetrics-text") || !strings.HasSuffix(om, "# EOF\n") {
		t.Errorf("OpenMetrics not negotiated: %q", hdr.Get("Content-Type"))
	}
}
