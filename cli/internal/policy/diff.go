package policy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/client"
	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/output"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// DiffJSON is the JSON form of `policy diff`; both diffs are unified text.
// Against a local bundle, to is 0 and path names the bundle.
type DiffJSON struct {
	From     uint64 `json:"from"`
	To       uint64 `json:"to"`
	Path     string `json:"path,omitempty"`
	Sources  string `json:"sources"`
	Rendered string `json:"rendered"`
}

func diffCommand(a *app.App) *dispatch.Command {
	return &dispatch.Command{
		Name:    "diff",
		Short:   "Show what changed between two versions, or what pushing a bundle would change",
		Usage:   "V1 V2 | [V1] PATH",
		MinArgs: 1, MaxArgs: 2,
		Long: `Prints the control plane's unified diff of the sources, then of the
rendered policy, from V1 to V2. With a PATH (a directory or a .star file)
in place of V2, the bundle there is rendered locally (errors show first)
and by the control plane as a push would, and compared with V1, or with
the active version when V1 is left out: what kubectl diff does.`,
		Examples: []string{
			"keyway policy diff v2 v3",
			"keyway policy diff 1 3 -o json",
			"keyway policy diff v3 ./mypolicy",
			"keyway policy diff ./mypolicy",
		},
		Run: func(ctx context.Context, args []string) error {
			last := args[len(args)-1]
			var from uint64
			if len(args) == 2 {
				var err error
				if from, err = ParseVersion(args[0]); err != nil {
					return err
				}
				if to, verr := ParseVersion(last); verr == nil {
					return diffVersions(ctx, a, from, to)
				} else if _, serr := os.Stat(last); serr != nil {
					return dispatch.Usagef("policy diff: %q is neither a version nor a policy path", last)
				}
			} else if _, err := ParseVersion(last); err == nil {
				return dispatch.Usagef("policy diff: give two versions, or a policy PATH (with a version to compare with)")
			}
			return diffBundle(ctx, a, from, last)
		},
	}
}

func diffVersions(ctx context.Context, a *app.App, from, to uint64) error {
	var resp *keywayv1.DiffResponse
	err := a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
		var err error
		resp, err = c.Policy.Diff(ctx, &keywayv1.DiffRequest{From: from, To: to})
		return err
	})
	if err != nil {
		// The answer does not say which one is missing; name both.
		return notFoundPair(err, from, to)
	}
	return printDiff(a, DiffJSON{From: from, To: to}, Name(to), resp)
}

// diffBundle compares version from (0: the active one) with the bundle at
// path, rendered here first so its errors read as validate's do.
func diffBundle(ctx context.Context, a *app.App, from uint64, path string) error {
	bundle, _, err := renderLocal(ctx, a, path)
	if err != nil {
		return err
	}
	var resp *keywayv1.DiffResponse
	err = a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
		var err error
		resp, err = c.Policy.Diff(ctx, &keywayv1.DiffRequest{From: from, Bundle: bundle})
		return err
	})
	var nf *client.NotFound
	if errors.As(err, &nf) && from != 0 {
		return fmt.Errorf("no version %s", Name(from))
	}
	if err != nil {
		return err
	}
	return printDiff(a, DiffJSON{From: resp.GetFrom(), Path: path}, path, resp)
}

// notFoundPair words a NotFound answer to a diff, naming the missing
// version when the control plane's text says which one it was.
func notFoundPair(err error, from, to uint64) error {
	var nf *client.NotFound
	if !errors.As(err, &nf) {
		return err
	}
	mentions := func(v uint64) bool {
		return regexp.MustCompile(`\b(v|version )` + strconv.FormatUint(v, 10) + `\b`).MatchString(nf.Msg)
	}
	switch {
	case mentions(from) && !mentions(to):
		return fmt.Errorf("no version %s", Name(from))
	case mentions(to) && !mentions(from):
		return fmt.Errorf("no version %s", Name(to))
	default:
		return fmt.Errorf("no version %s or %s: %s", Name(from), Name(to), nf.Msg)
	}
}

func printDiff(a *app.App, j DiffJSON, toName string, resp *keywayv1.DiffResponse) error {
	if a.JSON() {
		j.Sources, j.Rendered = resp.GetSources(), resp.GetRendered()
		return output.WriteJSON(a.Stdout, j)
	}
	fromName := Name(j.From)
	var b strings.Builder
	if resp.GetSources() == "" && resp.GetRendered() == "" {
		fmt.Fprintf(&b, "%s and %s are identical\n", fromName, toName)
	}
	section(&b, "sources", fromName, toName, resp.GetSources())
	section(&b, "rendered", fromName, toName, resp.GetRendered())
	_, err := a.Stdout.Write([]byte(b.String()))
	return err
}

func section(b *strings.Builder, what, from, to, diff string) {
	if diff == "" {
		return
	}
	if b.Len() > 0 {
		b.WriteByte('\n')
	}
	fmt.Fprintf(b, "==> %s: %s -> %s <==\n%s", what, from, to, diff)
	if !strings.HasSuffix(diff, "\n") {
		b.WriteByte('\n')
	}
}
