// Package commandnames checks the command names a policy lists against
// Redis's command table, the one the proxy serves. The table itself lives
// in the data plane (keyway.dev/dataplane/resp); names_gen.go is a
// generated copy of its names, so rendering needs no data-plane package.
// A test in dataplane/resp fails when the copy drifts.
package commandnames

import (
	"fmt"
	"strings"
)

var byUpper = func() map[string]string {
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[strings.ToUpper(n)] = n
	}
	return m
}()

// Canonical returns the table's name for a command as a policy lists it,
// case-insensitively: "config|set" is "CONFIG|SET", "get" is "GET". It
// answers as resp.Canonical does, errors included.
func Canonical(name string) (string, error) {
	top, sub, hasSub := strings.Cut(name, "|")
	c, ok := byUpper[strings.ToUpper(top)]
	if !ok || strings.Contains(c, "|") {
		return "", fmt.Errorf("unknown command %q", name)
	}
	if !hasSub {
		return c, nil
	}
	if s, ok := byUpper[strings.ToUpper(c+"|"+sub)]; ok {
		return s, nil
	}
	return "", fmt.Errorf("%s has no subcommand %q", c, sub)
}

// Admin reports whether name, or for a container one of its subcommands,
// is an admin command: one that changes the server or relays its stream.
func Admin(name string) bool {
	for _, a := range admin {
		if a == name || strings.HasPrefix(a, name+"|") {
			return true
		}
	}
	return false
}

// AdminNames lists the admin commands, containers folded, in the order
// of the sorted leaves.
func AdminNames() []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range admin {
		n, _, _ := strings.Cut(a, "|")
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// Names returns every name Canonical accepts, sorted; a copy.
func Names() []string { return append([]string(nil), names...) }

// AdminLeaves returns the admin commands with subcommands in place of
// their containers, sorted; a copy.
func AdminLeaves() []string { return append([]string(nil), admin...) }
