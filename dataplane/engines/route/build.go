package route

import (
	"errors"
	"fmt"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/internal/trie"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Build compiles a Route and its children.
func Build(b *engine.Builder, cfg *keywayv1.Route) (engine.Engine, error) {
	if cfg.GetDefault() == nil {
		return nil, errors.New("default is required: keyless commands and keys that match no prefix go there")
	}
	rt := &Route{}
	for i, pr := range cfg.GetRoutes() {
		if pr.GetPrefix() == "" {
			return nil, fmt.Errorf("routes[%d]: empty prefix (use default for everything else)", i)
		}
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
