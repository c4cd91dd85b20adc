package guard

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/internal/trie"
	"keyway.dev/dataplane/resp"
	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Build compiles a Guard. Command names are checked against the command
// table, so a typo fails the build instead of allowing or denying
// nothing; a name in both lists is a contradiction and fails too.
func Build(b *engine.Builder, cfg *keywayv1.Guard) (engine.Engine, error) {
	g := &Guard{
		maxValue:    cfg.GetMaxValueBytes(),
		maxKeys:     int(cfg.GetMaxKeys()),
		maxPipeline: int(cfg.GetMaxPipeline()),
		audit:       cfg.GetAudit(),
		domain:      b.Domain,
		counts:      &Counts{},
	}
	var err error
	if g.allow, err = names("allow_commands", cfg.GetAllowCommands()); err != nil {
		return nil, err
	}
	if g.deny, err = names("deny_commands", cfg.GetDenyCommands()); err != nil {
		return nil, err
	}
	if err := kinds.GuardCommands(slices.Sorted(maps.Keys(g.allow)), slices.Sorted(maps.Keys(g.deny))); err != nil {
		return nil, err
	}
	if err := kinds.Prefixes("key_prefixes", cfg.GetKeyPrefixes()); err != nil {
		return nil, err
	}
	g.prefixes = cfg.GetKeyPrefixes()
	g.prefixList = strings.Join(g.prefixes, ", ")
	if g.trie, err = trie.New(g.prefixes); err != nil {
		return nil, fmt.Errorf("key_prefixes: %w", err)
	}
	if g.globTrie, err = trie.New(globLiterals(g.prefixes)); err != nil {
		return nil, fmt.Errorf("key_prefixes: %w", err)
	}
	if err := kinds.Prefixes("channel_prefixes", cfg.GetChannelPrefixes()); err != nil {
		return nil, err
	}
	g.chanList = strings.Join(cfg.GetChannelPrefixes(), ", ")
	if g.chanTrie, err = trie.New(cfg.GetChannelPrefixes()); err != nil {
		return nil, fmt.Errorf("channel_prefixes: %w", err)
	}
	if g.chanGlobTrie, err = trie.New(globLiterals(cfg.GetChannelPrefixes())); err != nil {
		return nil, fmt.Errorf("channel_prefixes: %w", err)
	}
	if err := kinds.GuardScripts(cfg.GetAllowScripts(), len(cfg.GetKeyPrefixes())); err != nil {
		return nil, err
	}
	g.allowScripts = cfg.GetAllowScripts()
	if g.next, err = b.Child("next", cfg.GetNext()); err != nil {
		return nil, err
	}
	return g, nil
}

// names canonicalises a command list; an empty list is nil.
func names(field string, list []string) (map[string]struct{}, error) {
	if len(list) == 0 {
		return nil, nil
	}
	set := make(map[string]struct{}, len(list))
	for _, c := range list {
		name, err := resp.Canonical(c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		set[name] = struct{}{}
	}
	return set, nil
}
