package keyway

import (
	"context"
	"fmt"

	"flag"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/client"
	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/output"
	"keyway.dev/proto/buildinfo"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// VersionJSON is the JSON form of `keyway version`: the CLI's own build
// at the top level, as before the server was asked, and the server's
// beside it.
type VersionJSON struct {
	buildinfo.Info
	// Server is the keyway-control that answered; absent with --client.
	Server *ServerVersionJSON `json:"server,omitempty"`
}

// ServerVersionJSON is the build of the keyway-control that answered.
type ServerVersionJSON struct {
	buildinfo.Info
	// Replica is the answering replica's name (its --replica).
	Replica string `json:"replica"`
}

func versionCommand(a *app.App) *dispatch.Command {
	var clientOnly bool
	return &dispatch.Command{
		Name:  "version",
		Short: "Print the version, commit and build date of keyway and of the control plane",
		Usage: "[flags]",
		Long: `The version is ` + "`git describe --always --dirty`" + ` of the tree it was built
from by ` + "`make build`" + `, "dev" for a plain ` + "`go build`" + `. The server's is
that of the keyway-control replica answering at --addr; when it cannot be
reached the client's is printed and the command fails.`,
		MaxArgs: 0,
		Examples: []string{
			"keyway version",
			"keyway version --client",
			"keyway version -o json",
		},
		Flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&clientOnly, "client", false, "print only the CLI's own version; do not contact the control plane")
		},
		Run: func(ctx context.Context, _ []string) error {
			v := VersionJSON{Info: a.Build}
			if v.Version == "" {
				v.Info = buildinfo.Get()
			}
			var callErr error
			if !clientOnly {
				callErr = a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
					r, err := c.Server.GetServerInfo(ctx, &keywayv1.GetServerInfoRequest{})
					if err != nil {
						return err
					}
					v.Server = &ServerVersionJSON{
						Info:    buildinfo.Info{Version: r.GetVersion(), Commit: r.GetCommit(), Date: r.GetDate(), Go: r.GetGo()},
						Replica: r.GetReplica(),
					}
					return nil
				})
			}
			if a.JSON() {
				if callErr != nil {
					return callErr
				}
				return output.WriteJSON(a.Stdout, v)
			}
			if clientOnly {
				_, err := fmt.Fprintln(a.Stdout, "keyway "+v.String())
				return err
			}
			if _, err := fmt.Fprintln(a.Stdout, "client: keyway "+v.String()); err != nil {
				return err
			}
			if callErr != nil {
				return callErr
			}
			_, err := fmt.Fprintf(a.Stdout, "server: keyway-control %s at %s (replica %s)\n", v.Server.String(), a.Addr, v.Server.Replica)
			return err
		},
	}
}
