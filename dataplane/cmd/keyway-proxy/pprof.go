package main

import (
	"net/http"
	"net/http/pprof"
)

// withPprof adds Go's profiling endpoints under /debug/pprof/ to the
// admin handler when on. They are off by default: a CPU profile costs
// the data path a few percent while it runs, and the admin listener may
// be reachable by more people than should be able to do that.
func withPprof(admin http.Handler, on bool) http.Handler {
	if !on {
		return admin
	}
	mux := http.NewServeMux()
	mux.Handle("/", admin)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
