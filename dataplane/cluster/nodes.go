package cluster

import (
	"context"
	"fmt"

	"keyway.dev/dataplane/upstream"
)

// NodeFor returns the primary that owns key's slot, or the first primary
// for a nil key. The proxy keeps per-node state for a client on it:
// CLIENT TRACKING must run on the connection that reads the key, so a
// tracking client holds one connection per node it reads from.
func (v *View) NodeFor(ctx context.Context, key []byte) (*upstream.Node, error) {
	t, err := v.c.topology(ctx)
	if err != nil {
		return nil, err
	}
	if len(t.primaries) == 0 {
		return nil, fmt.Errorf("CLUSTERDOWN keyway: upstream %s has no primary", v.name)
	}
	if key == nil {
		return t.primaries[0], nil
	}
	i := t.m.Owner(Slot(key))
	if i < 0 {
		return nil, fmt.Errorf("CLUSTERDOWN keyway: upstream %s: no node serves slot %d", v.name, Slot(key))
	}
	return t.primaries[i], nil
}

// Primaries returns every primary of the cluster as it is known now.
func (v *View) Primaries(ctx context.Context) ([]*upstream.Node, error) {
	t, err := v.c.topology(ctx)
	if err != nil {
		return nil, err
	}
	return append([]*upstream.Node(nil), t.primaries...), nil
}

// Watch returns every primary of the cluster as it is known now and a
// channel closed when the topology is next replaced (a refresh, a MOVED),
// so a caller keeping state on every primary (the near cache's tracking
// connections) learns of a failover or a new node without polling.
func (v *View) Watch(ctx context.Context) ([]*upstream.Node, <-chan struct{}, error) {
	t, err := v.c.topology(ctx)
	if err != nil {
		return nil, nil, err
	}
	return append([]*upstream.Node(nil), t.primaries...), t.replaced, nil
}
