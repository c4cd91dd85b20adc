// Package keyway assembles the keyway command tree and runs one command
// line: parse, dispatch, print errors, choose the exit code.
package keyway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/audit"
	"keyway.dev/cli/internal/backup"
	"keyway.dev/cli/internal/complete"
	"keyway.dev/cli/internal/contexts"
	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/explain"
	kflag "keyway.dev/cli/internal/flag"
	"keyway.dev/cli/internal/fleet"
	"keyway.dev/cli/internal/policy"
	"keyway.dev/cli/internal/policytest"
	"keyway.dev/cli/internal/rollout"
	"keyway.dev/cli/internal/token"
	"keyway.dev/cli/internal/watch"
)

// Root returns the whole command tree bound to a. It is built per run so
// every command starts with fresh flag values.
func Root(a *app.App) *dispatch.Command {
	root := &dispatch.Command{
		Name:  "keyway",
		Short: "keyway manages Keyway policies and shows the proxy fleet",
		Long: `keyway talks to keyway-control (default ` + app.DefaultAddr + `, or $` + app.AddrEnv + `).
After ` + "`make demo`" + ` every command works without flags.

Exit status: 0 on success, 1 when the command failed, 2 when it was called
wrongly (unknown command or flag, missing or malformed argument).`,
		Examples: []string{
			"keyway policy validate policies/examples/quickstart",
			"keyway policy push policies/examples/quickstart -m \"first version\"",
			"keyway fleet",
			"keyway --addr 10.0.0.5:7700 policy history -o json",
		},
		Sub: []*dispatch.Command{
			policyCommand(a),
			fleet.Command(a),
			topCommand(a),
			explain.Command(a),
			kflag.Command(a),
			rollout.Command(a),
			audit.Command(a),
			token.Command(a),
			backup.Command(a),
			versionCommand(a),
			contexts.Command(a),
			dispatch.Completion(func() io.Writer { return a.Stdout }),
		},
	}
	watch.Attach(a, root, "fleet", "rollout status")
	complete.Attach(root, a)
	attachJSON(root)
	return root
}

// policyCommand is the policy group with `policy test`, which lives in its
// own package because it needs the proxy's engines.
func policyCommand(a *app.App) *dispatch.Command {
	p := policy.Command(a)
	p.Sub = append(p.Sub, policytest.Command(a))
	return p
}

// Runner returns the dispatcher for a's tree.
func Runner(a *app.App) *dispatch.Runner {
	return &dispatch.Runner{
		Root:       Root(a),
		Persistent: a.GlobalFlags,
		Help:       a.Stdout,
		PersistentValues: map[string]dispatch.Completer{
			"context": contexts.Names(a),
		},
		Before: func() error {
			if err := a.Check(); err != nil {
				return &dispatch.UsageError{Err: err}
			}
			return nil
		},
	}
}

// Main runs one command line (without the program name) and returns the
// process exit code. Errors go to a.Stderr, one "error: " line each.
func Main(ctx context.Context, a *app.App, args []string) int {
	err := Runner(a).Run(ctx, args)
	code := dispatch.ExitCode(err)
	if err != nil {
		for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
			fmt.Fprintf(a.Stderr, "error: %s\n", line)
		}
		var u *dispatch.UsageError
		if errors.As(err, &u) && u.Path != "" {
			fmt.Fprintf(a.Stderr, "Run '%s --help' for usage.\n", u.Path)
		}
	}
	return code
}
