package resp

import (
	"fmt"
	"strings"
)

// Canonical returns the command table's name for a command as a policy
// lists it, case-insensitively: "config|set" is "CONFIG|SET", "get" is
// "GET". Engines that match commands by name check their lists with it at
// build time, so a typo fails the build instead of matching nothing.
func Canonical(name string) (string, error) {
	top, sub, hasSub := strings.Cut(name, "|")
	s := Lookup([]byte(top))
	if s == nil {
		return "", fmt.Errorf("unknown command %q", name)
	}
	if !hasSub {
		return s.Name, nil
	}
	for _, c := range s.Subcommands {
		if strings.EqualFold(c.Name, s.Name+"|"+sub) {
			return c.Name, nil
		}
	}
	return "", fmt.Errorf("%s has no subcommand %q", s.Name, sub)
}
