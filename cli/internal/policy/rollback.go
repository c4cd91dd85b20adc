package policy

import (
	"context"
	"flag"
	"fmt"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/client"
	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/output"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// RollbackJSON is the JSON form of `policy rollback`.
type RollbackJSON struct {
	Active   VersionJSON `json:"active"`
	Previous uint64      `json:"previous"`
}

func rollbackCommand(a *app.App) *dispatch.Command {
	var reason, author string
	return &dispatch.Command{
		Name:    "rollback",
		Short:   "Activate an earlier (or any stored) version",
		Usage:   "VERSION [--reason TEXT]",
		MinArgs: 1, MaxArgs: 1,
		Long: `Makes VERSION the active policy; proxies receive it at once. Nothing
is rewritten: history keeps every version, and you can activate the newer
one again the same way.`,
		Examples: []string{
			"keyway policy rollback v1",
			"keyway policy rollback 2 --reason \"v3 doubled p99 on sessions\"",
		},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&reason, "reason", "", "`TEXT` saying why, recorded with the activation")
			fs.StringVar(&author, "author", "", "`NAME` recorded as who activated it (default $USER@hostname)")
		},
		Run: func(ctx context.Context, args []string) error {
			v, err := ParseVersion(args[0])
			if err != nil {
				return err
			}
			if author == "" {
				author = defaultAuthor(a)
			}
			var resp *keywayv1.ActivateResponse
			err = a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
				var err error
				resp, err = c.Policy.Activate(ctx, &keywayv1.ActivateRequest{Version: v, Author: author, Reason: reason})
				return err
			})
			if err != nil {
				return notFound(err, v)
			}
			if a.JSON() {
				return output.WriteJSON(a.Stdout, RollbackJSON{Active: infoJSON(resp.GetVersion()), Previous: resp.GetPrevious()})
			}
			_, err = fmt.Fprintf(a.Stdout, "active: %s (was %s)\n", Name(resp.GetVersion().GetVersion()), Name(resp.GetPrevious()))
			return err
		},
	}
}
