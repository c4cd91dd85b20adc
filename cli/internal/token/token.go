// Package token implements `keyway token create|list|revoke`: the bearer
// tokens that authenticate callers of the admin API. A token's secret is
// printed once, by create, and never again.
package token

import (
	"context"
	"flag"
	"fmt"
	"time"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/client"
	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/output"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Command returns the `token` group bound to a.
func Command(a *app.App) *dispatch.Command {
	return &dispatch.Command{
		Name:  "token",
		Short: "Create, list and revoke admin API tokens (admins only)",
		Long: `Tokens authenticate callers of the admin API; each has a role:
viewer (read), author (also validate and push), operator (also activate,
roll back, flags and rollouts) or admin (also manage tokens). The control
plane keeps only a SHA-256 of each token, so a lost token cannot be shown
again: revoke it and create another.`,
		Examples: []string{
			"keyway token create ci-deploy --role author",
			"keyway token list",
			"keyway token revoke ci-deploy",
		},
		Sub: []*dispatch.Command{createCommand(a), listCommand(a), revokeCommand(a)},
	}
}

// ListJSON is the JSON form of `token list`.
type ListJSON struct {
	Tokens []InfoJSON `json:"tokens"`
}

// InfoJSON is a token in -o json output; field names are part of the
// CLI's contract.
type InfoJSON struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	Created string `json:"created"`
	Creator string `json:"creator"`
	// Token is the secret, present only in the output of create.
	Token string `json:"token,omitempty"`
}

func toJSON(t *keywayv1.TokenInfo, secret string) InfoJSON {
	return InfoJSON{
		Name:    t.GetName(),
		Role:    t.GetRole(),
		Created: output.TimeOf(t.GetCreated()).UTC().Format(time.RFC3339),
		Creator: t.GetCreator(),
		Token:   secret,
	}
}

func createCommand(a *app.App) *dispatch.Command {
	var role string
	return &dispatch.Command{
		Name:    "create",
		Short:   "Create a token and print its secret, once",
		Usage:   "NAME --role ROLE",
		MinArgs: 1, MaxArgs: 1,
		Long: `Creates a token called NAME with ROLE and prints the secret on stdout.
It is shown only now: store it (for example in a secret manager, or in
KEYWAY_TOKEN) before the terminal scrolls away.`,
		Examples: []string{
			"keyway token create ci-deploy --role author",
			"KEYWAY_TOKEN=$(keyway token create dash --role viewer -o json | jq -r .token)",
		},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&role, "role", "", "`ROLE` of the token: viewer, author, operator or admin (required)")
		},
		Run: func(ctx context.Context, args []string) error {
			if role == "" {
				return dispatch.Usagef("token create: a role is required (--role viewer|author|operator|admin)")
			}
			var resp *keywayv1.CreateTokenResponse
			err := a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
				var err error
				resp, err = c.Tokens.CreateToken(ctx, &keywayv1.CreateTokenRequest{Name: args[0], Role: role})
				return err
			})
			if err != nil {
				return err
			}
			if a.JSON() {
				return output.WriteJSON(a.Stdout, toJSON(resp.GetToken(), resp.GetSecret()))
			}
			t := resp.GetToken()
			fmt.Fprintf(a.Stderr, "created token %s with role %s; its secret is shown only this once:\n", t.GetName(), t.GetRole())
			_, err = fmt.Fprintln(a.Stdout, resp.GetSecret())
			return err
		},
	}
}

func listCommand(a *app.App) *dispatch.Command {
	return &dispatch.Command{
		Name:    "list",
		Short:   "List tokens: name, role, age, creator (never secrets)",
		Usage:   "[flags]",
		MaxArgs: 0,
		Examples: []string{
			"keyway token list",
			"keyway token list -o json",
		},
		Run: func(ctx context.Context, _ []string) error {
			var resp *keywayv1.ListTokensResponse
			err := a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
				var err error
				resp, err = c.Tokens.ListTokens(ctx, &keywayv1.ListTokensRequest{})
				return err
			})
			if err != nil {
				return err
			}
			if a.JSON() {
				out := ListJSON{Tokens: []InfoJSON{}}
				for _, t := range resp.GetTokens() {
					out.Tokens = append(out.Tokens, toJSON(t, ""))
				}
				return output.WriteJSON(a.Stdout, out)
			}
			if len(resp.GetTokens()) == 0 {
				_, err := fmt.Fprintln(a.Stdout, "no tokens; the admin API is open unless keyway-control runs with --auth=on")
				return err
			}
			tw := output.NewTable(a.Stdout, "NAME", "ROLE", "CREATED", "CREATOR")
			for _, t := range resp.GetTokens() {
				output.Row(tw, t.GetName(), t.GetRole(), output.Age(a.Now(), output.TimeOf(t.GetCreated())), output.Dash(t.GetCreator()))
			}
			return tw.Flush()
		},
	}
}

func revokeCommand(a *app.App) *dispatch.Command {
	return &dispatch.Command{
		Name:    "revoke",
		Short:   "Revoke a token; calls carrying it are refused at once",
		Usage:   "NAME",
		MinArgs: 1, MaxArgs: 1,
		Long: `The last admin token cannot be revoked: create another admin token first.`,
		Examples: []string{
			"keyway token revoke ci-deploy",
		},
		Run: func(ctx context.Context, args []string) error {
			var resp *keywayv1.RevokeTokenResponse
			err := a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
				var err error
				resp, err = c.Tokens.RevokeToken(ctx, &keywayv1.RevokeTokenRequest{Name: args[0]})
				return err
			})
			if err != nil {
				return err
			}
			if a.JSON() {
				return output.WriteJSON(a.Stdout, toJSON(resp.GetToken(), ""))
			}
			_, err = fmt.Fprintf(a.Stdout, "revoked token %s (%s)\n", resp.GetToken().GetName(), resp.GetToken().GetRole())
			return err
		},
	}
}
