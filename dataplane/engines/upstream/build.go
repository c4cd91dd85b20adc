package upstream

import (
	"errors"

	"keyway.dev/dataplane/engine"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Build compiles a Forward: it takes a reference to the named upstream's
// shared client, which the tree drops when it retires.
func Build(b *engine.Builder, cfg *keywayv1.Forward) (engine.Engine, error) {
	name := cfg.GetName()
	if name == "" {
		return nil, errors.New("name is required: the upstream to send to")
	}
	if cfg.GetReadFromReplicas() {
		if u, ok := b.UpstreamConfig(name); ok && u.GetCluster() == nil {
			return nil, errors.New("read_from_replicas needs a cluster upstream; " + name + " is standalone")
		}
	}
	up, err := b.Upstream(name)
	if err != nil {
		return nil, err
	}
	return &Forward{up: up, name: name}, nil
}
