// Package complete gives shell completion the names an operator types:
// policy versions, workload domains, feature flags, rollouts, proxy node
// ids and token names, read from the control plane with the command's
// own connection settings. A control plane that cannot be reached
// completes nothing; completion never prints an error.
package complete

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/client"
	"keyway.dev/cli/internal/dispatch"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Attach sets the completers of the commands of root, by command path and
// flag name. Keeping them here, not in each command, keeps the command
// packages about what they do.
func Attach(root *dispatch.Command, a *app.App) {
	versions := Versions(a)
	domains := Domains(a)
	rollouts := Rollouts(a)
	onlyFirst := func(fn dispatch.Completer, n int) dispatch.Completer {
		return func(ctx context.Context, args []string, typed string) []string {
			if len(args) >= n {
				return nil
			}
			return fn(ctx, args, typed)
		}
	}
	root.Walk(func(path string, c *dispatch.Command) {
		if c.Run == nil {
			return
		}
		values := map[string]dispatch.Completer{}
		switch strings.TrimPrefix(path, root.Name+" ") {
		case "policy show", "policy rollback":
			c.Complete = onlyFirst(versions, 1)
		case "policy diff":
			c.Complete = onlyFirst(versions, 2)
		case "rollout start":
			values["domain"], values["to"] = domains, versions
		case "rollout status", "rollout pause", "rollout resume", "rollout promote", "rollout abort":
			values["domain"] = rollouts
		case "flag set", "flag delete":
			c.Complete = onlyFirst(Flags(a), 1)
		case "fleet":
			c.Complete = Nodes(a)
		case "token revoke":
			c.Complete = onlyFirst(Tokens(a), 1)
		}
		if _, taken := values["domain"]; !taken {
			values["domain"] = domains
		}
		c.FlagValues = values
	})
}

// ask runs fn against the control plane and returns its names, or none.
func ask(ctx context.Context, a *app.App, fn func(ctx context.Context, c *client.Conn) ([]string, error)) []string {
	var out []string
	err := a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
		var err error
		out, err = fn(ctx, c)
		return err
	})
	if err != nil {
		return nil
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Versions completes stored policy versions, newest first, as v3.
func Versions(a *app.App) dispatch.Completer {
	return func(ctx context.Context, _ []string, _ string) []string {
		var out []string
		err := a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
			resp, err := c.Policy.ListVersions(ctx, &keywayv1.ListVersionsRequest{})
			for _, v := range resp.GetVersions() {
				out = append(out, fmt.Sprintf("v%d", v.GetVersion()))
			}
			return err
		})
		if err != nil {
			return nil
		}
		return out
	}
}

// Domains completes the workload domains of the active version.
func Domains(a *app.App) dispatch.Completer {
	return func(ctx context.Context, _ []string, _ string) []string {
		return ask(ctx, a, func(ctx context.Context, c *client.Conn) ([]string, error) {
			resp, err := c.Policy.ListVersions(ctx, &keywayv1.ListVersionsRequest{Limit: 1})
			var out []string
			for _, d := range resp.GetDomains() {
				out = append(out, d.GetDomain())
			}
			return out, err
		})
	}
}

// Rollouts completes the domains that have a rollout running or paused.
func Rollouts(a *app.App) dispatch.Completer {
	return func(ctx context.Context, _ []string, _ string) []string {
		return ask(ctx, a, func(ctx context.Context, c *client.Conn) ([]string, error) {
			resp, err := c.Rollouts.ListRollouts(ctx, &keywayv1.ListRolloutsRequest{})
			var out []string
			for _, r := range resp.GetRollouts() {
				if s := r.GetState(); s == keywayv1.RolloutState_ROLLOUT_STATE_RUNNING || s == keywayv1.RolloutState_ROLLOUT_STATE_PAUSED {
					out = append(out, r.GetDomain())
				}
			}
			return out, err
		})
	}
}

// Flags completes feature flag names.
func Flags(a *app.App) dispatch.Completer {
	return func(ctx context.Context, _ []string, _ string) []string {
		return ask(ctx, a, func(ctx context.Context, c *client.Conn) ([]string, error) {
			resp, err := c.Flags.ListFlags(ctx, &keywayv1.ListFlagsRequest{})
			var out []string
			for _, f := range resp.GetFlags() {
				out = append(out, f.GetFlag().GetFlag())
			}
			return out, err
		})
	}
}

// Nodes completes the ids of the proxies the control plane knows.
func Nodes(a *app.App) dispatch.Completer {
	return func(ctx context.Context, typed []string, _ string) []string {
		names := ask(ctx, a, func(ctx context.Context, c *client.Conn) ([]string, error) {
			// One page: an unpaged answer passes gRPC's 4 MiB limit at
			// about 30,000 nodes, and a shell offers a thousand names no
			// better than it offers them all.
			resp, err := c.Fleet.ListNodes(ctx, &keywayv1.ListNodesRequest{PageSize: 1000})
			var out []string
			for _, n := range resp.GetNodes() {
				out = append(out, n.GetId())
			}
			return out, err
		})
		return slices.DeleteFunc(names, func(n string) bool { return slices.Contains(typed, n) })
	}
}

// Tokens completes admin API token names.
func Tokens(a *app.App) dispatch.Completer {
	return func(ctx context.Context, _ []string, _ string) []string {
		return ask(ctx, a, func(ctx context.Context, c *client.Conn) ([]string, error) {
			resp, err := c.Tokens.ListTokens(ctx, &keywayv1.ListTokensRequest{})
			var out []string
			for _, t := range resp.GetTokens() {
				out = append(out, t.GetName())
			}
			return out, err
		})
	}
}
