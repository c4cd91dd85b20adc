package kinds

import (
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
