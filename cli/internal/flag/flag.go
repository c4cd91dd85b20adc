// Package flag implements `keyway flag`: per-domain feature flags that
// move connections between a flag engine's branches without a new policy
// version.
package flag

import (
	"context"
	goflag "flag"
	"fmt"
	"strconv"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/client"
	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/output"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Command returns the `flag` command group bound to a.
func Command(a *app.App) *dispatch.Command {
	return &dispatch.Command{
		Name:  "flag",
		Short: "Set, list and delete per-domain feature flags",
		Long: `A flag is on, off or a percentage of a domain's connections, read by the
flag(name, on=..., off=...) engines of the domain's tree. Changing one
needs no new policy version and reaches every proxy within a second.
Connections are assigned by a stable hash, so raising a percentage only
moves connections from off to on, never back.`,
		Examples: []string{
			"keyway flag set new-cluster --domain checkout --percent 10",
			"keyway flag list",
		},
		Sub: []*dispatch.Command{setCommand(a), listCommand(a), deleteCommand(a)},
	}
}

func setCommand(a *app.App) *dispatch.Command {
	var (
		domain, author string
		on, off        bool
		percent        percentValue
	)
	return &dispatch.Command{
		Name:    "set",
		Short:   "Turn a flag on, off, or on for a percentage of connections",
		Usage:   "NAME --domain D (--on | --off | --percent P) [--author NAME]",
		MinArgs: 1, MaxArgs: 1,
		Examples: []string{
			"keyway flag set new-cluster --domain checkout --percent 10",
			"keyway flag set new-cluster --domain checkout --on",
			"keyway flag set new-cluster --domain checkout --off -o json",
		},
		Flags: func(fs *goflag.FlagSet) {
			fs.StringVar(&domain, "domain", "", "workload `domain` the flag belongs to (required)")
			fs.BoolVar(&on, "on", false, "on for every connection")
			fs.BoolVar(&off, "off", false, "off for every connection")
			fs.Var(&percent, "percent", "on for this `share` (0-100) of connections")
			fs.StringVar(&author, "author", "", "`NAME` recorded in the audit log (default $USER@hostname)")
		},
		Run: func(ctx context.Context, args []string) error {
			if domain == "" {
				return dispatch.Usagef("flag set: --domain is required")
			}
			chosen := 0
			for _, b := range []bool{on, off, percent.set} {
				if b {
					chosen++
				}
			}
			if chosen != 1 {
				return dispatch.Usagef("flag set: give exactly one of --on, --off or --percent P")
			}
			p := percent.n
			switch {
			case on:
				p = 100
			case off:
				p = 0
			}
			if author == "" {
				author = Author(a)
			}
			var resp *keywayv1.SetFlagResponse
			err := a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
				var err error
				resp, err = c.Flags.SetFlag(ctx, &keywayv1.SetFlagRequest{Domain: domain, Flag: args[0], Percent: p, Author: author})
				return err
			})
			if err != nil {
				return err
			}
			if a.JSON() {
				return output.WriteJSON(a.Stdout, toJSON(resp.GetFlag()))
			}
			was := "new flag"
			if resp.Previous != nil {
				was = "was " + Describe(resp.GetPrevious())
			}
			_, err = fmt.Fprintf(a.Stdout, "flag %s in %s: %s (%s)\n", args[0], domain, Describe(p), was)
			return err
		},
	}
}

func listCommand(a *app.App) *dispatch.Command {
	var domain string
	return &dispatch.Command{
		Name:    "list",
		Short:   "List flags, of one domain or all",
		Usage:   "[--domain D]",
		MaxArgs: 0,
		Examples: []string{
			"keyway flag list",
			"keyway flag list --domain checkout -o json",
		},
		Flags: func(fs *goflag.FlagSet) {
			fs.StringVar(&domain, "domain", "", "only this workload `domain`")
		},
		Run: func(ctx context.Context, _ []string) error {
			var resp *keywayv1.ListFlagsResponse
			err := a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
				var err error
				resp, err = c.Flags.ListFlags(ctx, &keywayv1.ListFlagsRequest{Domain: domain})
				return err
			})
			if err != nil {
				return err
			}
			if a.JSON() {
				out := ListJSON{Flags: []FlagJSON{}}
				for _, f := range resp.GetFlags() {
					out.Flags = append(out.Flags, toJSON(f))
				}
				return output.WriteJSON(a.Stdout, out)
			}
			if len(resp.GetFlags()) == 0 {
				_, err := fmt.Fprintln(a.Stdout, "no flags")
				return err
			}
			tw := output.NewTable(a.Stdout, "DOMAIN", "FLAG", "STATE", "AUTHOR", "UPDATED")
			for _, f := range resp.GetFlags() {
				output.Row(tw, f.GetFlag().GetDomain(), f.GetFlag().GetFlag(), Describe(f.GetFlag().GetPercent()),
					output.Dash(f.GetAuthor()), output.Age(a.Now(), output.TimeOf(f.GetUpdated())))
			}
			return tw.Flush()
		},
	}
}

func deleteCommand(a *app.App) *dispatch.Command {
	var domain, author string
	return &dispatch.Command{
		Name:    "delete",
		Short:   "Delete a flag; its engines take the off branch",
		Usage:   "NAME --domain D [--author NAME]",
		MinArgs: 1, MaxArgs: 1,
		Examples: []string{"keyway flag delete new-cluster --domain checkout"},
		Flags: func(fs *goflag.FlagSet) {
			fs.StringVar(&domain, "domain", "", "workload `domain` the flag belongs to (required)")
			fs.StringVar(&author, "author", "", "`NAME` recorded in the audit log (default $USER@hostname)")
		},
		Run: func(ctx context.Context, args []string) error {
			if domain == "" {
				return dispatch.Usagef("flag delete: --domain is required")
			}
			if author == "" {
				author = Author(a)
			}
			var resp *keywayv1.DeleteFlagResponse
			err := a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
				var err error
				resp, err = c.Flags.DeleteFlag(ctx, &keywayv1.DeleteFlagRequest{Domain: domain, Flag: args[0], Author: author})
				return err
			})
			if err != nil {
				return err
			}
			if a.JSON() {
				return output.WriteJSON(a.Stdout, toJSON(resp.GetFlag()))
			}
			_, err = fmt.Fprintf(a.Stdout, "deleted flag %s in %s (was %s)\n", args[0], domain, Describe(resp.GetFlag().GetFlag().GetPercent()))
			return err
		},
	}
}

// Describe words a percentage: "on", "off" or "30%".
func Describe(percent uint32) string {
	switch percent {
	case 0:
		return "off"
	case 100:
		return "on"
	}
	return fmt.Sprintf("%d%%", percent)
}

// Author is the default identity recorded for a change: $USER@hostname.
func Author(a *app.App) string {
	user := "unknown"
	if a.Getenv != nil {
		for _, k := range []string{"USER", "LOGNAME"} {
			if v := a.Getenv(k); v != "" {
				user = v
				break
			}
		}
	}
	if a.Hostname == nil {
		return user
	}
	if host, err := a.Hostname(); err == nil && host != "" {
		return user + "@" + host
	}
	return user
}

// percentValue is --percent: unset until given, so its help shows no
// default (an int flag would need a sentinel, shown as "default -1").
type percentValue struct {
	n   uint32
	set bool
}

func (p *percentValue) String() string {
	if p == nil || !p.set {
		return ""
	}
	return strconv.FormatUint(uint64(p.n), 10)
}

func (p *percentValue) Set(s string) error {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return fmt.Errorf("%q is not a whole number from 0 to 100", s)
	}
	if n > 100 {
		return fmt.Errorf("%d is over 100", n)
	}
	p.n, p.set = uint32(n), true
	return nil
}
