package reject

import (
	"errors"
	"fmt"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/internal/trie"
	"keyway.dev/dataplane/resp"
	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// DefaultMessage is sent when the policy gives none; the renderer sets
// the same default (policy/kinds).
const DefaultMessage = kinds.RejectDefaultMessage

// Build compiles a Reject. Command names are checked against the command
// table so a typo ("FLUSHAL") fails the build instead of refusing
// nothing.
func Build(b *engine.Builder, cfg *keywayv1.Reject) (engine.Engine, error) {
	if err := kinds.Reject(len(cfg.GetCommands()), len(cfg.GetKeyPrefixes())); err != nil {
		return nil, err
	}
	rj := &Reject{commands: make(map[string]struct{}, len(cfg.GetCommands()))}
	for _, c := range cfg.GetCommands() {
		name, err := resp.Canonical(c)
		if err != nil {
			return nil, fmt.Errorf("commands: %w", err)
		}
		rj.commands[name] = struct{}{}
	}
	if err := kinds.Prefixes("key_prefixes", cfg.GetKeyPrefixes()); err != nil {
		return nil, err
	}
	var err error
	rj.prefixes = cfg.GetKeyPrefixes()
	if rj.trie, err = trie.New(rj.prefixes); err != nil {
		return nil, fmt.Errorf("key_prefixes: %w", err)
	}
	msg := cfg.GetMessage()
	if msg == "" {
		msg = DefaultMessage
	}
	if err := kinds.RejectMessage(msg); err != nil {
		return nil, err
	}
	rj.err = errors.New(msg)
	if rj.next, err = b.Child("next", cfg.GetNext()); err != nil {
		return nil, err
	}
	return rj, nil
}
