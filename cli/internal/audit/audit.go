// Package audit implements `keyway audit`: who pushed, activated, changed
// a flag or acted on a rollout, and when.
package audit

import (
	"context"
	"flag"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/client"
	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/output"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// ListJSON is the JSON form of `keyway audit`. Field names are part of the
// CLI's contract.
type ListJSON struct {
	Events []EventJSON `json:"events"`
}

// EventJSON is one recorded action.
type EventJSON struct {
	Time   string `json:"time"`
	Who    string `json:"who"`
	Action string `json:"action"`
	Target string `json:"target"`
	Detail string `json:"detail"`
}

// Command returns the `audit` command bound to a.
func Command(a *app.App) *dispatch.Command {
	var limit uint
	return &dispatch.Command{
		Name:    "audit",
		Short:   "List recent pushes, activations, flag changes and rollout actions",
		Usage:   "[--limit N]",
		MaxArgs: 0,
		Long: `Newest first. WHO is the author the caller gave (or $USER@hostname);
"controller" marks the rollout controller's own decisions.`,
		Examples: []string{
			"keyway audit",
			"keyway audit --limit 500 -o json | jq '.events[] | select(.action == \"rollout.abort\")'",
		},
		Flags: func(fs *flag.FlagSet) {
			fs.UintVar(&limit, "limit", 50, "show at most `N` events")
		},
		Run: func(ctx context.Context, _ []string) error {
			var resp *keywayv1.ListAuditEventsResponse
			err := a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
				var err error
				resp, err = c.Audit.ListAuditEvents(ctx, &keywayv1.ListAuditEventsRequest{Limit: uint32(limit)})
				return err
			})
			if err != nil {
				return err
			}
			if a.JSON() {
				out := ListJSON{Events: []EventJSON{}}
				for _, e := range resp.GetEvents() {
					out.Events = append(out.Events, EventJSON{Time: output.Stamp(output.TimeOf(e.GetTime())), Who: e.GetWho(), Action: e.GetAction(), Target: e.GetTarget(), Detail: e.GetDetail()})
				}
				return output.WriteJSON(a.Stdout, out)
			}
			tw := output.NewTable(a.Stdout, "WHEN", "WHO", "ACTION", "TARGET", "WHAT")
			for _, e := range resp.GetEvents() {
				output.Row(tw, output.Age(a.Now(), output.TimeOf(e.GetTime())), e.GetWho(), e.GetAction(), e.GetTarget(), e.GetDetail())
			}
			return tw.Flush()
		},
	}
}
