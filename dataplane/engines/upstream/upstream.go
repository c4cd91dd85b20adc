// Package upstream is the Forward engine: the leaf that sends requests to
// one upstream of the tree (a Redis server or cluster) through the
// proxy's shared connection pools.
package upstream

import (
	"context"

	"keyway.dev/dataplane/engine"
)

// Forward sends every request to one upstream.
type Forward struct {
	up   engine.Upstream
	name string
}

var (
	_ engine.Engine    = (*Forward)(nil)
	_ engine.Explainer = (*Forward)(nil)
)

// Serve names the upstream on each request, for telemetry, and hands the
// whole batch to the upstream client, which pipelines it. A batch of a
// pinned client (a transaction, watched keys, a blocking command) goes to
// its pin instead: every engine above has already had its say, and only
// the connection differs. The server never mixes clients in a batch, so
// the first request speaks for all.
func (f *Forward) Serve(ctx context.Context, b engine.Batch) {
	for _, r := range b {
		r.Upstream = f.name
	}
	if len(b) > 0 && b[0].Pin != nil {
		b[0].Pin.Forward(ctx, f.up, b)
		return
	}
	f.up.Serve(ctx, b)
}

// Upstream is the shared client the leaf sends to. A pin asks it for a
// dedicated connection when a client's transaction, WATCH or blocking
// command first reaches this leaf.
func (f *Forward) Upstream() engine.Upstream { return f.up }

// Explain records the upstream reached; Forward is a leaf.
func (f *Forward) Explain(_ *engine.Request, x *engine.Explanation) engine.Engine {
	x.Reach(f.name)
	return nil
}
