package keyway

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/output"
)

// VersionJSON is the JSON form of `keyway version`.
type VersionJSON struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
}

func versionCommand(a *app.App) *dispatch.Command {
	return &dispatch.Command{
		Name:    "version",
		Short:   "Print keyway's version",
		Usage:   "[flags]",
		MaxArgs: 0,
		Examples: []string{
			"keyway version",
			"keyway version -o json",
		},
		Run: func(context.Context, []string) error {
			v := VersionJSON{Version: a.Version, Commit: commit(), Go: runtime.Version()}
			if v.Version == "" {
				v.Version = "dev"
			}
			if a.JSON() {
				return output.WriteJSON(a.Stdout, v)
			}
			_, err := fmt.Fprintf(a.Stdout, "keyway %s (commit %s, %s)\n", v.Version, output.Dash(v.Commit), v.Go)
			return err
		},
	}
}

// commit is the VCS revision stamped by the go command, when it was.
func commit() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			if len(s.Value) > 12 {
				return s.Value[:12]
			}
			return s.Value
		}
	}
	return ""
}
