package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWithPprof(t *testing.T) {
	admin := http.NewServeMux()
	admin.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	tests := []struct {
		name string
		on   bool
		path string
		want int
	}{
		{"off hides pprof", false, "/debug/pprof/", http.StatusNotFound},
		{"on serves pprof", true, "/debug/pprof/", http.StatusOK},
		{"on keeps admin", true, "/healthz", http.StatusOK},
		{"off keeps admin", false, "/healthz", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			withPprof(admin, tt.on).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if rec.Code != tt.want {
				t.Fatalf("GET %s: %d, want %d", tt.path, rec.Code, tt.want)
			}
		})
	}
}
