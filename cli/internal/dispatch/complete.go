package dispatch

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Completer suggests values for shell completion: positional arguments
// (args are those already typed) or a flag's value. It may call the
// control plane; errors mean no suggestions.
type Completer func(ctx context.Context, args []string, toComplete string) []string

func noFiles(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// completions wires c's completers into cc. Positional arguments without
// a completer complete file names only when the command takes a PATH.
func (r *Runner) completions(cc *cobra.Command, c *Command) {
	if c.Complete != nil {
		cc.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return filter(c.Complete(cmd.Context(), args, toComplete), toComplete), cobra.ShellCompDirectiveNoFileComp
		}
	} else if !strings.Contains(c.Usage, "PATH") {
		cc.ValidArgsFunction = noFiles
	}
	for name, fn := range c.FlagValues {
		if cc.Flags().Lookup(name) == nil {
			continue
		}
		_ = cc.RegisterFlagCompletionFunc(name, func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return filter(fn(cmd.Context(), args, toComplete), toComplete), cobra.ShellCompDirectiveNoFileComp
		})
	}
}

func filter(vals []string, prefix string) []cobra.Completion {
	var out []cobra.Completion
	for _, v := range vals {
		if strings.HasPrefix(v, prefix) {
			out = append(out, v)
		}
	}
	return out
}

// Completion returns the `completion SHELL` command: it writes to w the
// script that makes SHELL complete the tree it runs in.
func Completion(w func() io.Writer) *Command {
	return &Command{
		Name:    "completion",
		Short:   "Print the shell completion script for bash, zsh or fish",
		Usage:   "bash|zsh|fish",
		MinArgs: 1, MaxArgs: 1,
		Long: `Completes commands, flags and, by asking the control plane, policy
versions, domains, feature flags, rollouts and proxy node names.`,
		Examples: []string{
			"keyway completion bash > ~/.local/share/bash-completion/completions/keyway",
			"keyway completion zsh > \"${fpath[1]}/_keyway\"",
			"keyway completion fish > ~/.config/fish/completions/keyway.fish",
		},
		Complete: func(context.Context, []string, string) []string { return []string{"bash", "zsh", "fish"} },
		Run: func(ctx context.Context, args []string) error {
			root, _ := ctx.Value(rootKey{}).(*cobra.Command)
			if root == nil {
				return errors.New("completion: not run from a command line")
			}
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(w(), true)
			case "zsh":
				return root.GenZshCompletion(w())
			case "fish":
				return root.GenFishCompletion(w(), true)
			}
			return Usagef("completion: unknown shell %q (bash, zsh or fish)", args[0])
		},
	}
}
