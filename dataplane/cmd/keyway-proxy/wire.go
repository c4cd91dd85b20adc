package main

import (
	"log/slog"

	"keyway.dev/dataplane/cluster"
	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/all"
	"keyway.dev/dataplane/upstream"
)

// newRegistry is every engine kind this proxy builds.
func newRegistry() *engine.Registry { return all.Registry() }

// newPools returns the shared upstream connection pools and a func that
// closes them once every tree is retired.
func newPools(log *slog.Logger) (engine.Upstreams, func()) {
	p := upstream.NewPools(upstream.Options{}, log)
	p.SetCluster(cluster.NewShared)
	return p, p.Close
}
