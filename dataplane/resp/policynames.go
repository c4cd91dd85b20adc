package resp

import (
	"sort"
	"strings"
)

// PolicyNames lists what a policy may name of this table: every command
// Canonical accepts (top-level names, containers and their subcommands)
// and the admin ones among them (ProxyClass.Admin). keyway.dev/policy
// holds a generated copy (policy/commandnames), so rendering a policy
// needs no data-plane package; `go generate` in this directory rewrites
// that copy, and a test here fails when it drifts.
func PolicyNames() (names, admin []string) {
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	for _, table := range []map[string]*Spec{commands, proxyCommands} {
		for _, s := range table {
			add(s.Name)
			for _, sub := range s.Subcommands {
				add(sub.Name)
			}
		}
	}
	for _, row := range ClassTable() {
		add(row.Name)
		if c, _, ok := strings.Cut(row.Name, "|"); ok {
			add(c)
		}
		if row.Class.Admin() {
			admin = append(admin, row.Name)
		}
	}
	sort.Strings(names)
	sort.Strings(admin)
	return names, admin
}
