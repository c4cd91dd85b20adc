// Package contexts implements `keyway config`: the named contexts of the
// config file, one per control plane, chosen as kubectl chooses
// kubeconfig contexts.
package contexts

import (
	"context"
	"fmt"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/config"
	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/output"
)

// ListJSON is the JSON form of `config get-contexts`.
type ListJSON struct {
	Path     string        `json:"path"`
	Current  string        `json:"current"`
	Contexts []ContextJSON `json:"contexts"`
}

// ContextJSON is one context; the token itself is never printed.
type ContextJSON struct {
	Name    string `json:"name"`
	Current bool   `json:"current"`
	Address string `json:"address"`
	TLS     bool   `json:"tls"`
	Token   bool   `json:"token"`
}

// CurrentJSON is the JSON form of `config current-context` and
// `config use-context`.
type CurrentJSON struct {
	Path    string `json:"path"`
	Current string `json:"current"`
}

const fileHelp = `The config file is $KEYWAY_CONFIG, else
~/.config/keyway/config.yaml:

  current-context: prod
  contexts:
    prod:
      address: keyway.example.com:7700
      token: kwt_...
      tls: {ca: prod-ca.pem}
    dev:
      address: 127.0.0.1:7700

Settings at the top level apply to every context; a context's own replace
them. --context NAME (or $KEYWAY_CONTEXT) picks a context for one command;
flags and $KEYWAY_ADDR/$KEYWAY_TOKEN still win over the file.`

// Command returns the `config` group.
func Command(a *app.App) *dispatch.Command {
	return &dispatch.Command{
		Name:  "config",
		Short: "Show and switch the config file's contexts (one per control plane)",
		Long:  fileHelp,
		Examples: []string{
			"keyway config get-contexts",
			"keyway config use-context prod",
			"keyway --context dev fleet",
		},
		Sub: []*dispatch.Command{getContexts(a), currentContext(a), useContext(a)},
	}
}

// Names completes context names from the config file.
func Names(a *app.App) dispatch.Completer {
	return func(context.Context, []string, string) []string {
		f, _, err := config.ReadFile(env(a))
		if err != nil {
			return nil
		}
		return f.Names()
	}
}

func getContexts(a *app.App) *dispatch.Command {
	return &dispatch.Command{
		Name:    "get-contexts",
		Short:   "List the config file's contexts, the current one marked",
		Usage:   "[flags]",
		MaxArgs: 0,
		Examples: []string{
			"keyway config get-contexts",
			"keyway config get-contexts -o json",
		},
		Run: func(context.Context, []string) error {
			f, path, err := config.ReadFile(env(a))
			if err != nil {
				return err
			}
			current := chosen(a, f)
			out := ListJSON{Path: path, Current: current, Contexts: []ContextJSON{}}
			for _, n := range f.Names() {
				c := f.Contexts[n]
				out.Contexts = append(out.Contexts, ContextJSON{
					Name: n, Current: n == current, Address: c.Addr,
					TLS: c.TLS != (config.TLS{}) || f.TLS != (config.TLS{}), Token: c.Token != "" || f.Token != "",
				})
			}
			if a.JSON() {
				return output.WriteJSON(a.Stdout, out)
			}
			if len(out.Contexts) == 0 {
				_, err := fmt.Fprintf(a.Stdout, "no contexts in %s; see 'keyway config --help'\n", orDefault(path))
				return err
			}
			tw := output.NewTable(a.Stdout, "CURRENT", "NAME", "ADDRESS", "TLS", "TOKEN")
			for _, c := range out.Contexts {
				mark := ""
				if c.Current {
					mark = "*"
				}
				output.Row(tw, mark, c.Name, output.Dash(c.Address), yes(c.TLS), yes(c.Token))
			}
			return tw.Flush()
		},
	}
}

func currentContext(a *app.App) *dispatch.Command {
	return &dispatch.Command{
		Name:    "current-context",
		Short:   "Print the context commands use",
		Usage:   "[flags]",
		MaxArgs: 0,
		Examples: []string{
			"keyway config current-context",
		},
		Run: func(context.Context, []string) error {
			f, path, err := config.ReadFile(env(a))
			if err != nil {
				return err
			}
			current := chosen(a, f)
			if a.JSON() {
				return output.WriteJSON(a.Stdout, CurrentJSON{Path: path, Current: current})
			}
			if current == "" {
				_, err := fmt.Fprintf(a.Stdout, "no current context; the top-level settings of %s apply\n", orDefault(path))
				return err
			}
			_, err = fmt.Fprintln(a.Stdout, current)
			return err
		},
	}
}

func useContext(a *app.App) *dispatch.Command {
	return &dispatch.Command{
		Name:    "use-context",
		Short:   "Make a context the config file's current one",
		Usage:   "NAME",
		MinArgs: 1, MaxArgs: 1,
		Long: "Rewrites current-context in the config file; the rest of the file, comments included, stays as it was.",
		Examples: []string{
			"keyway config use-context prod",
		},
		Complete: Names(a),
		Run: func(_ context.Context, args []string) error {
			path, err := config.UseContext(env(a), args[0])
			if err != nil {
				return err
			}
			if a.JSON() {
				return output.WriteJSON(a.Stdout, CurrentJSON{Path: path, Current: args[0]})
			}
			_, err = fmt.Fprintf(a.Stdout, "switched to context %q (%s)\n", args[0], path)
			return err
		},
	}
}

// chosen is the context commands use: --context, $KEYWAY_CONTEXT, else
// the file's current-context.
func chosen(a *app.App, f config.File) string {
	if a.Context != "" {
		return a.Context
	}
	if v := env(a)(config.EnvContext); v != "" {
		return v
	}
	return f.CurrentContext
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDefault(path string) string {
	if path == "" {
		return "the config file (no $KEYWAY_CONFIG or $HOME)"
	}
	return path
}

func env(a *app.App) func(string) string {
	if a.Getenv == nil {
		return func(string) string { return "" }
	}
	return a.Getenv
}
