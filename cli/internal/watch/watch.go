// Package watch gives a command --watch, as `kubectl get -w` and
// `watch(1)` do: the command's output again every --interval until
// interrupted. On a terminal each frame replaces the last; into a pipe
// or a file frames follow one another with no terminal control codes.
package watch

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/dispatch"
)

// clear moves the cursor home and clears the screen (ANSI).
const clear = "\x1b[H\x1b[2J"

// Wrap adds --watch and --interval to c, whose Run then repeats; path is
// c's path below the root, for its example.
func Wrap(a *app.App, c *dispatch.Command, path string) {
	var (
		on    bool
		every time.Duration
	)
	flags, run := c.Flags, c.Run
	c.Flags = func(fs *flag.FlagSet) {
		if flags != nil {
			flags(fs)
		}
		fs.BoolVar(&on, "watch", false, "print again every --interval until interrupted (a terminal is redrawn)")
		fs.DurationVar(&every, "interval", 2*time.Second, "with --watch, how often to refresh (`duration`)")
	}
	c.Usage = strings.TrimSuffix(strings.TrimSuffix(c.Usage, " [flags]"), "[flags]")
	c.Usage = strings.TrimSpace(c.Usage + " [--watch [--interval 2s]]")
	c.Examples = append(c.Examples, "keyway "+path+" --watch")
	c.Run = func(ctx context.Context, args []string) error {
		if !on {
			return run(ctx, args)
		}
		if every <= 0 {
			return dispatch.Usagef("--interval must be positive, got %s", every)
		}
		out, term := a.Stdout, a.Terminal()
		defer func() { a.Stdout = out }()
		return Loop(ctx, out, term, every, func(w io.Writer) error {
			a.Stdout = w
			return run(ctx, args)
		})
	}
}

// Attach wraps the commands of root named by their paths below it
// ("fleet", "rollout status").
func Attach(a *app.App, root *dispatch.Command, names ...string) {
	root.Walk(func(path string, c *dispatch.Command) {
		rel := strings.TrimPrefix(path, root.Name+" ")
		for _, n := range names {
			if rel == n && c.Run != nil {
				Wrap(a, c, rel)
			}
		}
	})
}

// Loop writes frame's output to w every interval until ctx ends, which
// is a normal end (nil). A failing first frame ends the loop with its
// error; a later failure is shown in its frame and the loop goes on, as
// a control plane restarting should not end a watch.
func Loop(ctx context.Context, w io.Writer, terminal bool, interval time.Duration, frame func(io.Writer) error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for n := 0; ; n++ {
		var b bytes.Buffer
		if terminal {
			b.WriteString(clear)
		} else if n > 0 {
			b.WriteString("\n")
		}
		if err := frame(&b); err != nil {
			if n == 0 || ctx.Err() != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			fmt.Fprintf(&b, "error: %v (retrying every %s)\n", err, interval)
		}
		if _, err := w.Write(b.Bytes()); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
