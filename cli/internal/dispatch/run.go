package dispatch

import (
	"context"
	"errors"
	"flag"
	"io"
	"strings"
)

// Runner parses a command line against a tree and runs the chosen leaf.
type Runner struct {
	Root *Command
	// Persistent registers flags every command accepts (--addr, -o, ...).
	Persistent func(fs *flag.FlagSet)
	// Help receives --help output.
	Help io.Writer
	// Before runs after flags are parsed and before the leaf, e.g. to
	// validate global flag values; it may return a UsageError.
	Before func() error
}

// Run parses args (without the program name) and runs the selected
// command. --help prints help to r.Help and returns nil.
func (r *Runner) Run(ctx context.Context, args []string) error {
	cmd, path := r.Root, r.Root.Name
	// Persistent flags given at an outer level ("keyway --addr X policy
	// push") are replayed into each inner FlagSet, because registering a
	// flag again resets its variable to the default.
	var given [][2]string // name, value as parsed
	for cmd.Run == nil {
		// Groups take persistent flags before the next command word; the
		// standard parser stops at that word, which is what we want here.
		fs := r.flagSet(path, cmd, false, given)
		if err := fs.Parse(args); err != nil {
			return r.parseError(path, cmd, err)
		}
		fs.Visit(func(f *flag.Flag) { given = append(given, [2]string{f.Name, f.Value.String()}) })
		rest := fs.Args()
		if len(rest) == 0 {
			return &UsageError{Path: path, Err: errors.New(missing(path, cmd))}
		}
		next := cmd.Find(rest[0])
		if next == nil {
			if rest[0] == "help" {
				return r.help(path, cmd, rest[1:])
			}
			return &UsageError{Path: path, Err: errorf("unknown command %q for %q", rest[0], path)}
		}
		cmd, path, args = next, path+" "+next.Name, rest[1:]
	}
	fs := r.flagSet(path, cmd, true, given)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return r.parseError(path, cmd, err)
	}
	if len(pos) < cmd.MinArgs || (cmd.MaxArgs >= 0 && len(pos) > cmd.MaxArgs) {
		return &UsageError{Path: path, Err: errorf("%s: %s", path, argCount(cmd, len(pos)))}
	}
	if r.Before != nil {
		if err := r.Before(); err != nil {
			return withPath(err, path)
		}
	}
	return withPath(cmd.Run(ctx, pos), path)
}

// help serves "keyway help policy push" as "keyway policy push --help".
func (r *Runner) help(path string, cmd *Command, words []string) error {
	for _, w := range words {
		next := cmd.Find(w)
		if next == nil {
			return &UsageError{Path: path, Err: errorf("unknown command %q for %q", w, path)}
		}
		cmd, path = next, path+" "+w
	}
	WriteHelp(r.Help, path, cmd, r.Persistent)
	return nil
}

func (r *Runner) flagSet(path string, cmd *Command, leaf bool, given [][2]string) *flag.FlagSet {
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if leaf && cmd.Flags != nil {
		cmd.Flags(fs)
	}
	if r.Persistent != nil {
		r.Persistent(fs)
	}
	for _, f := range given {
		// The value parsed once already; setting it again cannot fail.
		_ = fs.Set(f[0], f[1])
	}
	return fs
}

func (r *Runner) parseError(path string, cmd *Command, err error) error {
	if errors.Is(err, flag.ErrHelp) {
		WriteHelp(r.Help, path, cmd, r.Persistent)
		return nil
	}
	return &UsageError{Path: path, Err: errorf("%s: %w", path, err)}
}

// parseInterspersed lets flags and positional arguments mix.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
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
