package dedicated

import (
	"context"
	"fmt"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/upstream"
)

// IsCluster reports whether up is a Redis Cluster, whose nodes own keys.
func IsCluster(up engine.Upstream) bool {
	_, ok := up.(keyedOpener)
	return ok
}

// keyedOpener is an upstream whose nodes depend on the key, a Redis
// Cluster: a stateful command must be pinned to the node owning its
// slot, or the node would answer MOVED inside the client's transaction.
type keyedOpener interface {
	DedicatedFor(ctx context.Context, key []byte) (*upstream.Dedicated, error)
}

// openForKey opens a dedicated connection to the node owning cmd's first
// key when up is a cluster and cmd has a key (WATCH, blocking pops). ok
// is false when the caller should open one the ordinary way. MULTI is
// deferred to its first command, so a transaction is pinned to the node
// of its first key; only a transaction that starts keyless lands on an
// arbitrary primary.
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

// CrossNode is the refusal of a pinned command whose key another node of
// the cluster owns, in Redis Cluster's words for keys that cannot be
// served together, with what to do about it.
func CrossNode(r *engine.Request, up string) error {
	return fmt.Errorf("CROSSSLOT keyway: %s touches a key of another node of upstream %q than the one this transaction or WATCH runs on; put the keys of one transaction in one slot with a {hash tag}",
		r.Cmd.Spec.Name, up)
}
