// Package backup implements `keyway backup export|import`: a fleet's
// policy versions, version pointers, rollouts and pins, feature flags,
// tokens (hashes only) and audit log as one file, through the admin API.
package backup

import (
	"context"
	"fmt"
	"os"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/client"
	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/output"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Command returns the `backup` group bound to a.
func Command(a *app.App) *dispatch.Command {
	return &dispatch.Command{
		Name:  "backup",
		Short: "Export a fleet's versions, flags, rollouts and tokens to a file, or import one (admins only)",
		Long: `A backup is every key the control plane keeps for its fleet in etcd
except what rebuilds itself (proxies' status, the rollout-leader election,
shared telemetry): policy versions with their authors, the head and active
version, rollouts and pins, feature flags, tokens and the audit log. Tokens
are stored as SHA-256 hashes, so the file holds no secret, but it lets its
holder restore those tokens: keep it as you would the etcd data.

The file is protobuf JSON (keyway.v1.Backup; values base64). Import writes
it into a fleet that has no policy version yet, for example a control
plane started on a new data dir; proxies then receive the active version.`,
		Examples: []string{
			"keyway backup export keyway-backup.json",
			"keyway --addr new-control:7700 backup import keyway-backup.json",
		},
		Sub: []*dispatch.Command{exportCommand(a), importCommand(a)},
	}
}

// ExportJSON is the JSON form of `backup export`.
type ExportJSON struct {
	File    string `json:"file"`
	Fleet   string `json:"fleet"`
	Entries int    `json:"entries"`
	Time    string `json:"time"`
}

// ImportJSON is the JSON form of `backup import`.
type ImportJSON struct {
	File    string `json:"file"`
	Entries int64  `json:"entries"`
	Head    uint64 `json:"head"`
	Active  uint64 `json:"active"`
}

func exportCommand(a *app.App) *dispatch.Command {
	return &dispatch.Command{
		Name:    "export",
		Short:   "Write the fleet's keys to FILE (mode 0600)",
		Usage:   "FILE",
		MinArgs: 1, MaxArgs: 1,
		Long: `Reads the fleet's keys at one etcd revision, so versions, pointers,
rollouts and tokens in the file agree with each other. FILE is created
with mode 0600, or replaced.`,
		Examples: []string{
			"keyway backup export keyway-$(date +%F).json",
		},
		Run: func(ctx context.Context, args []string) error {
			var resp *keywayv1.ExportResponse
			err := a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
				var err error
				resp, err = c.Backup.Export(ctx, &keywayv1.ExportRequest{})
				return err
			})
			if err != nil {
				return err
			}
			bk := resp.GetBackup()
			data, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(bk)
			if err != nil {
				return fmt.Errorf("encode the backup: %w", err)
			}
			if err := writeFile(args[0], append(data, '\n')); err != nil {
				return err
			}
			out := ExportJSON{File: args[0], Fleet: bk.GetFleet(), Entries: len(bk.GetEntries()), Time: output.TimeOf(bk.GetTime()).UTC().Format(time.RFC3339)}
			if a.JSON() {
				return output.WriteJSON(a.Stdout, out)
			}
			_, err = fmt.Fprintf(a.Stdout, "exported %d keys of fleet %s to %s\n", out.Entries, out.Fleet, out.File)
			return err
		},
	}
}

// writeFile writes data to a temporary file beside path and renames it,
// so an interrupted export never leaves a truncated backup under path.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write the backup: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write the backup: %w", err)
	}
	return nil
}

func importCommand(a *app.App) *dispatch.Command {
	return &dispatch.Command{
		Name:    "import",
		Short:   "Restore FILE into a fleet that has no policy version yet",
		Usage:   "FILE",
		MinArgs: 1, MaxArgs: 1,
		Long: `Writes the keys of a backup made by ` + "`keyway backup export`" + ` into the
control plane's fleet. The fleet must have no policy version: the import
refuses rather than mixing two histories. The tokens of the backup work
again once it is imported, and the authentication they imply with them.`,
		Examples: []string{
			"keyway backup import keyway-2026-12-06.json",
		},
		Run: func(ctx context.Context, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("read the backup: %w", err)
			}
			var bk keywayv1.Backup
			if err := protojson.Unmarshal(data, &bk); err != nil {
				return fmt.Errorf("%s is not a keyway backup: %w", args[0], err)
			}
			var resp *keywayv1.ImportResponse
			err = a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
				var err error
				resp, err = c.Backup.Import(ctx, &keywayv1.ImportRequest{Backup: &bk})
				return err
			})
			if err != nil {
				return err
			}
			out := ImportJSON{File: args[0], Entries: resp.GetEntries(), Head: resp.GetHead(), Active: resp.GetActive()}
			if a.JSON() {
				return output.WriteJSON(a.Stdout, out)
			}
			_, err = fmt.Fprintf(a.Stdout, "imported %d keys from %s: head v%d, active v%d\n", out.Entries, out.File, out.Head, out.Active)
			return err
		},
	}
}
