package dispatch

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"keyway.dev/cli/internal/output"
)

// errorf is fmt.Errorf, named so call sites read as messages.
var errorf = fmt.Errorf

// WriteHelp prints the help of cmd, whose full path is path: synopsis,
// description, subcommands, its flags, the global flags and examples.
func WriteHelp(w io.Writer, path string, cmd *Command, persistent func(*flag.FlagSet)) {
	var b bytes.Buffer
	if cmd.Short != "" {
		fmt.Fprintf(&b, "%s\n\n", cmd.Short)
	}
	b.WriteString("Usage:\n")
	switch {
	case cmd.Run == nil:
		fmt.Fprintf(&b, "  %s COMMAND [flags]\n", path)
	case cmd.Usage != "":
		fmt.Fprintf(&b, "  %s %s\n", path, cmd.Usage)
	default:
		fmt.Fprintf(&b, "  %s [flags]\n", path)
	}
	if cmd.Long != "" {
		fmt.Fprintf(&b, "\n%s\n", strings.TrimRight(cmd.Long, "\n"))
	}
	if len(cmd.Sub) > 0 {
		b.WriteString("\nCommands:\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 3, ' ', 0)
		for _, s := range cmd.Sub {
			fmt.Fprintf(tw, "  %s\t%s\n", s.Name, s.Short)
		}
		tw.Flush()
	}
	if cmd.Run != nil && cmd.Flags != nil {
		fs := flag.NewFlagSet(path, flag.ContinueOnError)
		cmd.Flags(fs)
		b.WriteString("\nFlags:\n")
		writeFlags(&b, fs)
	}
	if persistent != nil {
		fs := flag.NewFlagSet(path, flag.ContinueOnError)
		persistent(fs)
		b.WriteString("\nGlobal flags:\n")
		writeFlags(&b, fs)
	}
	if len(cmd.JSON) > 0 {
		b.WriteString("\nJSON fields (-o json):\n")
		output.WriteFields(&b, cmd.JSON)
	}
	if len(cmd.Examples) > 0 {
		b.WriteString("\nExamples:\n")
		for _, e := range cmd.Examples {
			fmt.Fprintf(&b, "  %s\n", e)
		}
	}
	if cmd.Run == nil {
		fmt.Fprintf(&b, "\nRun '%s COMMAND --help' for a command's flags and examples.\n", path)
	}
	_, _ = w.Write(b.Bytes())
}

// writeFlags lists flags, folding aliases that share one variable (-o and
// --output) into a single line.
func writeFlags(w io.Writer, fs *flag.FlagSet) {
	type entry struct {
		names []string
		f     *flag.Flag
	}
	var entries []*entry
	fs.VisitAll(func(f *flag.Flag) {
		for _, e := range entries {
			if e.f.Value == f.Value {
				e.names = append(e.names, f.Name)
				return
			}
		}
		entries = append(entries, &entry{names: []string{f.Name}, f: f})
	})
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	for _, e := range entries {
		name, usage := flag.UnquoteUsage(e.f)
		var spelled []string
		for _, n := range e.names {
			if len(n) == 1 {
				spelled = append([]string{"-" + n}, spelled...)
			} else {
				spelled = append(spelled, "--"+n)
			}
		}
		left := strings.Join(spelled, ", ")
		if name != "" {
			left += " " + name
		}
		if d := e.f.DefValue; d != "" && d != "false" && d != "0" && d != "0s" {
			usage += fmt.Sprintf(" (default %s)", d)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", left, usage)
	}
	tw.Flush()
}
