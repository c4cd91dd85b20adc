package policy

import (
	"context"
	"errors"
	"fmt"
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
type DiffJSON struct {
	From     uint64 `json:"from"`
	To       uint64 `json:"to"`
	Sources  string `json:"sources"`
	Rendered string `json:"rendered"`
}

func diffCommand(a *app.App) *dispatch.Command {
	return &dispatch.Command{
		Name:    "diff",
		Short:   "Show what changed between two versions",
		Usage:   "V1 V2",
		MinArgs: 2, MaxArgs: 2,
		Long: `Prints the control plane's unified diff of the sources, then of the
rendered policy, from V1 to V2.`,
		Examples: []string{
			"keyway policy diff v2 v3",
			"keyway policy diff 1 3 -o json",
		},
		Run: func(ctx context.Context, args []string) error {
			from, err := ParseVersion(args[0])
			if err != nil {
				return err
			}
			to, err := ParseVersion(args[1])
			if err != nil {
				return err
			}
			var resp *keywayv1.DiffResponse
			err = a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
				var err error
				resp, err = c.Policy.Diff(ctx, &keywayv1.DiffRequest{From: from, To: to})
				return err
			})
			if err != nil {
				// The answer does not say which one is missing; name both.
				return notFoundPair(err, from, to)
			}
			return printDiff(a, from, to, resp)
		},
	}
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

func printDiff(a *app.App, from, to uint64, resp *keywayv1.DiffResponse) error {
	if a.JSON() {
		return output.WriteJSON(a.Stdout, DiffJSON{From: from, To: to, Sources: resp.GetSources(), Rendered: resp.GetRendered()})
	}
	var b strings.Builder
	if resp.GetSources() == "" && resp.GetRendered() == "" {
		fmt.Fprintf(&b, "%s and %s are identical\n", Name(from), Name(to))
	}
	section(&b, "sources", from, to, resp.GetSources())
	section(&b, "rendered", from, to, resp.GetRendered())
	_, err := a.Stdout.Write([]byte(b.String()))
	return err
}

func section(b *strings.Builder, what string, from, to uint64, diff string) {
	if diff == "" {
		return
	}
	if b.Len() > 0 {
		b.WriteByte('\n')
	}
	fmt.Fprintf(b, "==> %s: %s -> %s <==\n%s", what, Name(from), Name(to), diff)
	if !strings.HasSuffix(diff, "\n") {
		b.WriteByte('\n')
	}
}
