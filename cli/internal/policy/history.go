package policy

import (
	"context"
	"flag"
	"sort"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/client"
	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/output"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// HistoryJSON is the JSON form of `policy history`.
type HistoryJSON struct {
	Active   uint64        `json:"active"`
	Head     uint64        `json:"head"`
	Versions []VersionJSON `json:"versions"`
}

func historyCommand(a *app.App) *dispatch.Command {
	var limit uint
	return &dispatch.Command{
		Name:    "history",
		Short:   "List policy versions, newest first",
		Usage:   "[--limit N]",
		MaxArgs: 0,
		Long:    `The active version is marked with * in the ACTIVE column.`,
		Examples: []string{
			"keyway policy history",
			"keyway policy history --limit 5",
			"keyway policy history -o json | jq '.versions[0]'",
		},
		Flags: func(fs *flag.FlagSet) {
			fs.UintVar(&limit, "limit", 0, "show at most `N` versions (0 shows all)")
		},
		Run: func(ctx context.Context, _ []string) error {
			var resp *keywayv1.ListVersionsResponse
			err := a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
				var err error
				resp, err = c.Policy.ListVersions(ctx, &keywayv1.ListVersionsRequest{Limit: uint32(limit)})
				return err
			})
			if err != nil {
				return err
			}
			return printHistory(a, resp)
		},
	}
}

func printHistory(a *app.App, resp *keywayv1.ListVersionsResponse) error {
	versions := append([]*keywayv1.PolicyVersionInfo(nil), resp.GetVersions()...)
	sort.SliceStable(versions, func(i, j int) bool { return versions[i].GetVersion() > versions[j].GetVersion() })
	if a.JSON() {
		h := HistoryJSON{Active: resp.GetActive(), Head: resp.GetHead(), Versions: make([]VersionJSON, 0, len(versions))}
		for _, v := range versions {
			h.Versions = append(h.Versions, infoJSON(v))
		}
		return output.WriteJSON(a.Stdout, h)
	}
	if len(versions) == 0 {
		_, err := a.Stdout.Write([]byte("no versions yet; push one with `keyway policy push PATH -m MSG`\n"))
		return err
	}
	tw := output.NewTable(a.Stdout, "VERSION", "ACTIVE", "AUTHOR", "AGE", "DIGEST", "MESSAGE")
	now := a.Now()
	for _, v := range versions {
		active := ""
		if v.GetActive() || v.GetVersion() == resp.GetActive() {
			active = "*"
		}
		output.Row(tw, Name(v.GetVersion()), active, output.Dash(v.GetAuthor()),
			output.Age(now, output.TimeOf(v.GetCreated())), shortDigest(v.GetDigest()),
			output.Truncate(output.FirstLine(v.GetMessage()), 60))
	}
	return tw.Flush()
}
