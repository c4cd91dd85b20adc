// Package dispatch is the keyway command tree. Commands declare their
// flags on the standard flag package; Runner parses with cobra and pflag,
// as kubectl does.
//
// Flags may follow positional arguments ("push DIR -m msg"), because that is
// how people type them; "--" ends flag parsing.
package dispatch

import (
	"context"
	"flag"
)

// Command is one node of the tree: a group (Sub set, Run nil) or a leaf.
type Command struct {
	// Name is the word that selects the command.
	Name string
	// Short is a one-line summary shown in the parent's command list.
	Short string
	// Usage is the synopsis after the command path, e.g. "PATH -m MSG [flags]".
	Usage string
	// Long is free text printed under the synopsis.
	Long string
	// Examples are shell lines, printed verbatim.
	Examples []string
	// Args bounds the number of positional arguments; MaxArgs < 0 means any.
	MinArgs, MaxArgs int
	// Flags registers the command's own flags. The root's persistent flags
	// are added to every FlagSet as well, so they may appear anywhere.
	Flags func(fs *flag.FlagSet)
	// Run executes a leaf with its positional arguments.
	Run func(ctx context.Context, args []string) error
	// Sub are the subcommands of a group.
	Sub []*Command

	// Complete suggests positional arguments to shell completion.
	Complete Completer
	// FlagValues suggests the values of the named flags.
	FlagValues map[string]Completer

	// JSON are samples of what -o json prints, one per shape the output
	// may take; help lists their fields (output.Fields).
	JSON []any
}

// Find returns the direct subcommand called name, or nil.
func (c *Command) Find(name string) *Command {
	for _, s := range c.Sub {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Walk calls fn for c and every command below it, depth first, with the
// full command path (e.g. "keyway policy push").
func (c *Command) Walk(fn func(path string, c *Command)) {
	c.walk(c.Name, fn)
}

func (c *Command) walk(path string, fn func(string, *Command)) {
	fn(path, c)
	for _, s := range c.Sub {
		s.walk(path+" "+s.Name, fn)
	}
}
