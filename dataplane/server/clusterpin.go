package server

import (
	"context"
	"fmt"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/upstream"
)

// keyedOpener is an upstream whose nodes depend on the key, a Redis
// Cluster: a stateful command must be pinned to the node owning its
// slot, or the node would answer MOVED inside the client's transaction.
type keyedOpener interface {
	DedicatedFor(ctx context.Context, key []byte) (*upstream.Dedicated, error)
}

// openForKey opens a dedicated connection to the node owning cmd's first
// key when up is a cluster and cmd has a key (WATCH, blocking pops). ok
// is false when the caller should open one the ordinary way. A MULTI
// opened before any key goes to an arbitrary primary, so its commands
// must hash to that node's slots; clients that WATCH first are pinned
// right.
func openForKey(ctx context.Context, up engine.Upstream, cmd *resp.Command) (*upstream.Dedicated, bool, error) {
	ko, isCluster := up.(keyedOpener)
	if !isCluster {
		return nil, false, nil
	}
	keys := cmd.Keys(nil)
	if len(keys) == 0 {
		return nil, false, nil
	}
	d, err := ko.DedicatedFor(ctx, cmd.Args[keys[0]])
	if err != nil {
		return nil, true, fmt.Errorf("keyway: dedicated connection to %s: %w", up.Name(), err)
	}
	return d, true, nil
}
