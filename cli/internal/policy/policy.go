// Package policy implements `keyway policy ...`: validate a bundle locally,
// push it as a new version, and read, compare and activate versions.
package policy

import (
	"fmt"
	"strconv"
	"strings"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/dispatch"
)

// Command returns the `policy` group bound to a.
func Command(a *app.App) *dispatch.Command {
	return &dispatch.Command{
		Name:  "policy",
		Short: "Validate, push, inspect and roll back policy versions",
		Long: `A policy is a bundle of Starlark files (a directory, or one .star file)
that declares upstreams, workload domains and their engine trees. Every
push stores an immutable, numbered version (v1, v2, ...); rollback
activates an older one.`,
		Examples: []string{
			"keyway policy validate policies/examples/quickstart",
			"keyway policy push policies/examples/quickstart -m \"route sessions to b\"",
			"keyway policy history",
			"keyway policy rollback v1 --reason \"v2 broke checkout\"",
		},
		Sub: []*dispatch.Command{
			validateCommand(a),
			pushCommand(a),
			historyCommand(a),
			showCommand(a),
			diffCommand(a),
			rollbackCommand(a),
		},
	}
}

// ParseVersion reads a version as people write it: "v3", "V3" or "3".
func ParseVersion(s string) (uint64, error) {
	digits := strings.TrimPrefix(strings.TrimPrefix(s, "v"), "V")
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || digits == "" || digits[0] == '+' {
		return 0, dispatch.Usagef("bad version %q: want v3 or 3", s)
	}
	if n == 0 {
		return 0, dispatch.Usagef("bad version %q: versions start at v1", s)
	}
	return n, nil
}

// Name is how a version is shown: v3, or "-" for none.
func Name(v uint64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("v%d", v)
}
