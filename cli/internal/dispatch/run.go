package dispatch

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Runner parses a command line against a tree and runs the chosen leaf.
// The parsing is cobra's and pflag's, as in kubectl, helm and etcdctl:
// flags anywhere after the command word, "--" ends them, -ojson and
// -o json alike, shell completion, suggestions for mistyped commands.
type Runner struct {
	Root *Command
	// Persistent registers flags every command accepts (--addr, -o, ...).
	Persistent func(fs *flag.FlagSet)
	// Help receives --help output and completion scripts.
	Help io.Writer
	// Before runs after flags are parsed and before the leaf, e.g. to
	// validate global flag values; it may return a UsageError.
	Before func() error
	// PersistentValues suggests the values of persistent flags.
	PersistentValues map[string]Completer
}

// Run parses args (without the program name) and runs the selected
// command. --help prints help to r.Help and returns nil.
func (r *Runner) Run(ctx context.Context, args []string) error {
	root := r.Cobra()
	root.SetArgs(args)
	_, err := root.ExecuteContextC(context.WithValue(ctx, rootKey{}, root))
	return err
}

// rootKey carries the running cobra tree to the completion command.
type rootKey struct{}

// Cobra returns the tree as cobra commands, for Run and for generating
// completion scripts.
func (r *Runner) Cobra() *cobra.Command {
	help := r.Help
	if help == nil {
		help = io.Discard
	}
	byCobra := map[*cobra.Command]*Command{}
	root := r.node(r.Root.Name, r.Root, byCobra)
	root.SetOut(help)
	root.SetErr(io.Discard)
	if r.Persistent != nil {
		gofs := flag.NewFlagSet(r.Root.Name, flag.ContinueOnError)
		r.Persistent(gofs)
		addGoFlags(root.PersistentFlags(), gofs)
		for name, fn := range r.PersistentValues {
			_ = root.RegisterFlagCompletionFunc(name, func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				return filter(fn(cmd.Context(), args, toComplete), toComplete), cobra.ShellCompDirectiveNoFileComp
			})
		}
	}
	// Flags and commands keep the spellings they have always had; the
	// completion command is ours, listed with the others.
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &UsageError{Path: c.CommandPath(), Err: errorf("%s: %s", c.CommandPath(), flagHint(c, err))}
	})
	root.SetHelpFunc(func(c *cobra.Command, _ []string) {
		if d := byCobra[c]; d != nil {
			WriteHelp(help, c.CommandPath(), d, r.Persistent)
			return
		}
		// cobra's own hidden commands (__complete) keep their help.
		fmt.Fprintln(help, c.UsageString())
	})
	root.SetHelpCommand(&cobra.Command{
		Use:    "help [command]",
		Short:  "Help about any command",
		Hidden: true,
		Args:   cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, words []string) error {
			target, rest, err := root.Find(words)
			if err != nil || len(rest) > 0 || byCobra[target] == nil {
				return &UsageError{Path: r.Root.Name, Err: unknown(target, rest, words)}
			}
			WriteHelp(help, target.CommandPath(), byCobra[target], r.Persistent)
			return nil
		},
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			target, _, err := root.Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []cobra.Completion
			for _, s := range target.Commands() {
				if s.IsAvailableCommand() && strings.HasPrefix(s.Name(), toComplete) {
					out = append(out, cobra.CompletionWithDesc(s.Name(), s.Short))
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
	})
	return root
}

func (r *Runner) node(path string, c *Command, byCobra map[*cobra.Command]*Command) *cobra.Command {
	cc := &cobra.Command{
		Use:           c.Name,
		Short:         c.Short,
		Long:          c.Long,
		Example:       strings.Join(c.Examples, "\n"),
		SilenceErrors: true,
		SilenceUsage:  true,
		// A mistyped command gets "did you mean"; two edits away is
		// cobra's default and kubectl's.
		SuggestionsMinimumDistance: 2,
	}
	byCobra[cc] = c
	if c.Run == nil {
		cc.Args = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			return &UsageError{Path: path, Err: unknown(cmd, args, args)}
		}
		cc.RunE = func(*cobra.Command, []string) error {
			return &UsageError{Path: path, Err: errors.New(missing(path, c))}
		}
		cc.ValidArgsFunction = noFiles
	} else {
		gofs := flag.NewFlagSet(path, flag.ContinueOnError)
		if c.Flags != nil {
			c.Flags(gofs)
		}
		addGoFlags(cc.Flags(), gofs)
		cc.Args = func(_ *cobra.Command, args []string) error {
			if len(args) < c.MinArgs || (c.MaxArgs >= 0 && len(args) > c.MaxArgs) {
				return &UsageError{Path: path, Err: errorf("%s: %s", path, argCount(c, len(args)))}
			}
			return nil
		}
		cc.RunE = func(cmd *cobra.Command, args []string) error {
			if r.Before != nil {
				if err := r.Before(); err != nil {
					return withPath(err, path)
				}
			}
			return withPath(c.Run(cmd.Context(), args), path)
		}
		r.completions(cc, c)
	}
	for _, s := range c.Sub {
		cc.AddCommand(r.node(path+" "+s.Name, s, byCobra))
	}
	return cc
}

// unknown words an unknown command under parent, with cobra's
// suggestions (edit distance, prefixes) when there are any.
func unknown(parent *cobra.Command, rest, words []string) error {
	typed := strings.Join(words, " ")
	if len(rest) > 0 {
		typed = rest[0]
	}
	if parent == nil {
		return errorf("unknown command %q", typed)
	}
	msg := fmt.Sprintf("unknown command %q for %q", typed, parent.CommandPath())
	if s := parent.SuggestionsFor(typed); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %q?", strings.Join(s, `" or "`))
	}
	return errors.New(msg)
}

// flagHint adds "did you mean --X" to pflag's unknown-flag errors.
func flagHint(c *cobra.Command, err error) string {
	msg := err.Error()
	name, ok := strings.CutPrefix(msg, "unknown flag: --")
	if !ok {
		return msg
	}
	best, bestD := "", 3
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if d := distance(name, f.Name); d < bestD && len(f.Name) > 1 {
			best, bestD = f.Name, d
		}
	})
	if best != "" {
		msg += fmt.Sprintf("; did you mean --%s?", best)
	}
	return msg
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func withPath(err error, path string) error {
	var u *UsageError
	if errors.As(err, &u) && u.Path == "" {
		u.Path = path
	}
	return err
}

func missing(path string, cmd *Command) string {
	names := make([]string, 0, len(cmd.Sub))
	for _, s := range cmd.Sub {
		names = append(names, s.Name)
	}
	return path + ": missing command (one of: " + strings.Join(names, ", ") + ")"
}

func argCount(cmd *Command, n int) string {
	switch {
	case cmd.MaxArgs == 0:
		return errorf("takes no arguments, got %d", n).Error()
	case cmd.MinArgs == cmd.MaxArgs:
		return errorf("takes %d argument(s), got %d", cmd.MinArgs, n).Error()
	case cmd.MaxArgs < 0:
		return errorf("takes at least %d argument(s), got %d", cmd.MinArgs, n).Error()
	default:
		return errorf("takes %d to %d arguments, got %d", cmd.MinArgs, cmd.MaxArgs, n).Error()
	}
}
