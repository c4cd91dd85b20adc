// Package top implements `keyway top`: a live, refreshing table of the
// fleet's traffic per workload domain (QPS, error rate, p50/p99, bytes,
// connections), a drill-down into one domain's commands, tracks and hot
// keys, and a one-shot JSON snapshot for scripts.
package top

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"

	"keyway.dev/cli/internal/client"
	"keyway.dev/cli/internal/output"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Exit codes, as the rest of the CLI uses them.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// clearScreen moves the cursor home and clears the terminal, so each frame
// replaces the last without a curses dependency.
const clearScreen = "\x1b[H\x1b[2J"

// Usage is the help text of `keyway top`.
const Usage = `usage: keyway top [--domain D] [--window 1m|5m] [--interval 2s] [--once] [-o table|json]

Live view of the fleet's traffic per workload domain, merged from every
proxy's reports: QPS, error rate, p50/p99 latency, bytes in/out and open
connections, busiest first, with per-node load below. --domain drills into
one domain's commands, rollout tracks, near cache (hit ratio, coalesced
reads, invalidations, evictions, bytes held) and hot keys. --once prints one
snapshot and exits; with -o json it is for scripts.

Examples:
  keyway top
  keyway top --domain payments --window 5m
  keyway top --once -o json | jq '.domains[] | select(.traffic.error_rate > 0.01)'
`

type options struct {
	domain   string
	window   keywayv1.Window
	interval time.Duration
	once     bool
	// plain prints frames one after another, without clearing the
	// screen: stdout is a pipe or a file, not a terminal.
	plain  bool
	format output.Format
}

func parse(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("keyway top", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := &options{}
	var window, format string
	fs.StringVar(&o.domain, "domain", "", "drill into one workload domain")
	fs.StringVar(&window, "window", "1m", "sliding window: 1m or 5m")
	fs.DurationVar(&o.interval, "interval", 2*time.Second, "refresh interval")
	fs.BoolVar(&o.once, "once", false, "print one snapshot and exit")
	fs.BoolVar(&o.plain, "plain", false, "print frames one after another without terminal control codes")
	fs.StringVar(&format, "o", "table", "output format: table or json")
	fs.StringVar(&format, "output", "table", "output format: table or json")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, Usage)
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch window {
	case "1m":
		o.window = keywayv1.Window_WINDOW_ONE_MINUTE
	case "5m":
		o.window = keywayv1.Window_WINDOW_FIVE_MINUTES
	default:
		return nil, fmt.Errorf("--window %q: want 1m or 5m", window)
	}
	if o.interval <= 0 {
		return nil, fmt.Errorf("--interval %v: want a positive duration", o.interval)
	}
	f, err := output.ParseFormat(format)
	if err != nil {
		return nil, err
	}
	o.format = f
	if f == output.JSON && !o.once {
		return nil, errors.New("-o json needs --once: a live view is for terminals")
	}
	return o, nil
}

// Run runs `keyway top` with args (after "top") against the control plane
// on conn until ctx is done, or once with --once. It returns the process
// exit code: 0, 1 for a failed query, 2 for bad usage.
func Run(ctx context.Context, conn *grpc.ClientConn, args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "keyway top: %v\n\n%s", err, Usage)
		return exitUsage
	}
	tc := keywayv1.NewTelemetryQueryServiceClient(conn)
	req := &keywayv1.TopRequest{Window: o.window, Domain: o.domain}
	target := conn.Target()

	if o.once {
		resp, err := tc.Top(ctx, req)
		if err != nil {
			fmt.Fprintf(stderr, "keyway top: %v\n", client.Explain(err, target))
			return exitError
		}
		if o.format == output.JSON {
			err = writeJSON(stdout, resp)
		} else {
			err = render(stdout, target, o, resp)
		}
		if err != nil {
			fmt.Fprintf(stderr, "keyway top: %v\n", err)
			return exitError
		}
		return exitOK
	}

	t := time.NewTicker(o.interval)
	defer t.Stop()
	var frame bytes.Buffer
	first := true
	for {
		frame.Reset()
		if o.plain {
			if !first {
				frame.WriteString("\n")
			}
		} else {
			frame.WriteString(clearScreen)
		}
		first = false
		resp, err := tc.Top(ctx, req)
		if ctx.Err() != nil {
			return exitOK
		}
		if err != nil {
			// Keep refreshing: a control plane restart should not end
			// the view an operator is watching during an incident.
			fmt.Fprintf(&frame, "keyway top  %s  query failed: %v\n", target, client.Explain(err, target))
		} else if err := render(&frame, target, o, resp); err != nil {
			fmt.Fprintf(stderr, "keyway top: %v\n", err)
			return exitError
		}
		if _, err := stdout.Write(frame.Bytes()); err != nil {
			fmt.Fprintf(stderr, "keyway top: write: %v\n", err)
			return exitError
		}
		select {
		case <-ctx.Done():
			return exitOK
		case <-t.C:
		}
	}
}
