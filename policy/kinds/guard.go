package kinds

import (
	"errors"
	"fmt"
	"slices"
)

// GuardCommands checks a guard's two command lists, canonical names: a
// command both allowed and denied is a contradiction, not a choice.
func GuardCommands(allow, deny []string) error {
	for _, name := range deny {
		if slices.Contains(allow, name) {
			return fmt.Errorf("%s is in both allow_commands and deny_commands", name)
		}
	}
	return nil
}

// ErrGuardScriptsUnconfined is allow_scripts on a guard without
// key_prefixes: a guard refuses scripts only because it cannot see the
// keys they touch, which matters only where prefixes confine the keys.
var ErrGuardScriptsUnconfined = errors.New("allow_scripts: scripts are refused only where key_prefixes confine the domain; without key_prefixes it changes nothing")

// GuardScripts checks allow_scripts against the guard's key prefixes.
func GuardScripts(allowScripts bool, keyPrefixes int) error {
	if allowScripts && keyPrefixes == 0 {
		return ErrGuardScriptsUnconfined
	}
	return nil
}
