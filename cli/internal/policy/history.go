package policy

import (
	"context"
	"flag"
	"fmt"
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
	// Domains is what each domain of the active version runs.
	Domains []DomainJSON `json:"domains"`
}

func historyCommand(a *app.App) *dispatch.Command {
	var limit uint
	return &dispatch.Command{
		Name:    "history",
		Short:   "List policy versions, newest first",
		Usage:   "[--limit N]",
		MaxArgs: 0,
		Long: `The active version is marked with * in the ACTIVE column. When a completed
rollout pinned a domain to another version, the column names the domains
each version runs ("* api" on the active version, "web" on the pinned
one), and a rollout in progress shows as "canary web 10%" on its target.
A table of every domain's version follows.`,
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
		h := HistoryJSON{Active: resp.GetActive(), Head: resp.GetHead(), Versions: make([]VersionJSON, 0, len(versions)), Domains: DomainsJSON(resp.GetDomains())}
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
		output.Row(tw, Name(v.GetVersion()), activeCell(v, resp.GetActive(), resp.GetDomains()), authorCell(v.GetAuthor(), v.GetAuthorNote()),
			output.Age(now, output.TimeOf(v.GetCreated())), shortDigest(v.GetDigest()),
			output.Truncate(output.FirstLine(v.GetMessage()), 60))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !differ(resp.GetActive(), resp.GetDomains()) {
		return nil
	}
	return DomainTable(a, resp.GetDomains())
}

// differ reports whether some domain runs another version than active.
func differ(active uint64, ds []*keywayv1.DomainVersion) bool {
	for _, d := range ds {
		if d.GetVersion() != active || d.GetCanaryVersion() != 0 {
			return true
		}
	}
	return false
}

// DomainTable prints a blank line and a DOMAIN / VERSION table.
func DomainTable(a *app.App, ds []*keywayv1.DomainVersion) error {
	if len(ds) == 0 {
		return nil
	}
	if _, err := fmt.Fprintln(a.Stdout); err != nil {
		return err
	}
	tw := output.NewTable(a.Stdout, "DOMAIN", "VERSION")
	for _, d := range ds {
		output.Row(tw, d.GetDomain(), DomainState(d))
	}
	return tw.Flush()
}
