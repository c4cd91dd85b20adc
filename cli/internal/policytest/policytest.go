// Package policytest implements `keyway policy test PATH`: render a
// bundle on this machine and run its test cases offline through the
// proxy's real engine tree, with recording upstreams.
package policytest

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/output"
	"keyway.dev/dataplane/policytest"
)

// Report is the JSON form of `policy test`.
type Report struct {
	Path    string              `json:"path"`
	Passed  int                 `json:"passed"`
	Failed  int                 `json:"failed"`
	Results []policytest.Result `json:"results"`
}

// Command returns the `test` leaf of the `policy` group.
func Command(a *app.App) *dispatch.Command {
	return &dispatch.Command{
		Name:    "test",
		Short:   "Run a policy's test cases offline against the real engine tree",
		Usage:   "PATH",
		MinArgs: 1, MaxArgs: 1,
		Long: `Renders the bundle at PATH (a directory or a .star file) locally, builds
every domain's engine tree with the proxy's own engines on recording
upstreams (nothing is sent over the network), and serves each test(...)
case's command through it. A case passes when the command reaches the
expected upstream, or is refused with an error containing the expected
text. A failure says why and shows the command's path through the tree.

Exit status 1 when any case fails or the policy does not render.`,
		Examples: []string{
			"keyway policy test policies/examples/quickstart",
			"keyway policy test main.star -o json",
		},
		Run: func(ctx context.Context, args []string) error {
			return run(ctx, a, args[0])
		},
	}
}

func run(ctx context.Context, a *app.App, path string) error {
	if a.Renderer == nil {
		return errors.New("this keyway was built without a policy renderer")
	}
	bundle, err := a.Renderer.LoadBundle(path)
	if err != nil {
		return err
	}
	pol, err := a.Renderer.Render(ctx, bundle)
	if err != nil {
		// Render errors start with file:line:col; keep them first.
		return err
	}
	rep := Report{Path: path, Results: policytest.Run(ctx, pol)}
	for _, r := range rep.Results {
		if r.Pass {
			rep.Passed++
		} else {
			rep.Failed++
		}
	}
	if rep.Results == nil {
		rep.Results = []policytest.Result{}
	}
	if a.JSON() {
		if err := output.WriteJSON(a.Stdout, rep); err != nil {
			return err
		}
	} else {
		writeText(a, rep)
	}
	if rep.Failed > 0 {
		return fmt.Errorf("%d of %d test cases failed", rep.Failed, len(rep.Results))
	}
	return nil
}

func writeText(a *app.App, rep Report) {
	if len(rep.Results) == 0 {
		fmt.Fprintf(a.Stdout, "%s: no test cases (declare them with test(...))\n", rep.Path)
		return
	}
	for _, r := range rep.Results {
		status := "PASS"
		if !r.Pass {
			status = "FAIL"
		}
		where := r.Source
		if where == "" {
			where = "-"
		}
		fmt.Fprintf(a.Stdout, "%s  %s  %s  (%s: %s)\n", status, where, r.Name, r.Domain, strings.Join(r.Command, " "))
		if !r.Pass {
			for _, line := range strings.Split(r.Reason, "\n") {
				fmt.Fprintf(a.Stdout, "      %s\n", line)
			}
		}
	}
	fmt.Fprintf(a.Stdout, "%d passed, %d failed\n", rep.Passed, rep.Failed)
}
