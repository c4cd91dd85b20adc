package keyway

import (
	"context"
	"fmt"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/output"
	"keyway.dev/proto/buildinfo"
)

// VersionJSON is the JSON form of `keyway version`.
type VersionJSON = buildinfo.Info

func versionCommand(a *app.App) *dispatch.Command {
	return &dispatch.Command{
		Name:  "version",
		Short: "Print keyway's version, commit and build date",
		Usage: "[flags]",
		Long: `The version is ` + "`git describe --always --dirty`" + ` of the tree it was built
from by ` + "`make build`" + `, "dev" for a plain ` + "`go build`" + `.`,
		MaxArgs: 0,
		Examples: []string{
			"keyway version",
			"keyway version -o json",
		},
		Run: func(context.Context, []string) error {
			v := a.Build
			if v.Version == "" {
				v = buildinfo.Get()
			}
			if a.JSON() {
				return output.WriteJSON(a.Stdout, v)
			}
			_, err := fmt.Fprintln(a.Stdout, "keyway "+v.String())
			return err
		},
	}
}
