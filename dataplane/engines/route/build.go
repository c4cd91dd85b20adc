package route

import (
	"fmt"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/internal/trie"
	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Build compiles a Route and its children.
func Build(b *engine.Builder, cfg *keywayv1.Route) (engine.Engine, error) {
	prefixes := make([]string, len(cfg.GetRoutes()))
	for i, pr := range cfg.GetRoutes() {
		prefixes[i] = pr.GetPrefix()
	}
	if errs := kinds.Route(cfg.GetDefault() != nil, prefixes); errs != nil {
		return nil, errs[0]
	}
	rt := &Route{}
	for _, pr := range cfg.GetRoutes() {
		child, err := b.Child(fmt.Sprintf("routes[%q]", pr.GetPrefix()), pr.GetEngine())
		if err != nil {
			return nil, err
		}
		rt.prefixes = append(rt.prefixes, pr.GetPrefix())
		rt.targets = append(rt.targets, child)
	}
	def, err := b.Child("default", cfg.GetDefault())
	if err != nil {
		return nil, err
	}
	rt.targets = append(rt.targets, def)
	if rt.trie, err = trie.New(rt.prefixes); err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	return rt, nil
}
