package keyway

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"time"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/top"
)

// topCommand is `keyway top`: the dispatcher parses the flags, so they
// mix with the global ones like every other command's, and top.Run draws.
func topCommand(a *app.App) *dispatch.Command {
	var (
		domain, window string
		interval       time.Duration
		once, live     bool
	)
	return &dispatch.Command{
		Name:    "top",
		Short:   "Live traffic per workload domain: QPS, errors, p50/p99, bytes, connections",
		Usage:   "[--domain D] [--window 1m|5m] [--interval 2s] [--once | --watch=false] [flags]",
		MaxArgs: 0,
		Long: `A refreshing table of the fleet's traffic per workload domain, merged by
the control plane from every proxy's reports (sent every few seconds):
QPS, error rate, p50/p99 latency, bytes in and out and open connections,
busiest first, with per-node load below. --domain drills into one domain's
commands, rollout tracks (stable, canary) and hot keys. --once prints one
snapshot and exits; -o json needs --once and is for scripts. When stdout
is not a terminal the frames follow one another, without the codes that
clear the screen.`,
		Examples: []string{
			"keyway top",
			"keyway top --domain payments --window 5m",
			"keyway top --once -o json | jq '.domains[] | select(.traffic.error_rate > 0.01)'",
		},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&domain, "domain", "", "drill into one workload `domain`")
			fs.StringVar(&window, "window", "1m", "sliding `window`: 1m or 5m")
			fs.DurationVar(&interval, "interval", 2*time.Second, "refresh `interval`")
			fs.BoolVar(&once, "once", false, "print one snapshot and exit")
			fs.BoolVar(&live, "watch", true, "refresh every --interval until interrupted, as fleet --watch does; --watch=false is --once")
		},
		Run: func(ctx context.Context, _ []string) error {
			format := "table"
			if a.JSON() {
				format = "json" // -o yaml converts it on the way out
			}
			args := []string{"--domain", domain, "--window", window, "--interval", interval.String(), "-o", format}
			if once || !live {
				args = append(args, "--once")
				// A live view runs until interrupted; one snapshot is a
				// call like any other and gets --timeout.
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, a.Timeout)
				defer cancel()
			}
			return runTop(ctx, a, args)
		},
	}
}

// runTop runs top.Run and turns its exit code and stderr into the error
// the dispatcher prints, so failures read like every other command's.
func runTop(ctx context.Context, a *app.App, args []string) error {
	c, err := a.Dial()
	if err != nil {
		return err
	}
	defer c.Close()
	if !a.Terminal() {
		args = append(args, "--plain")
	}
	var stderr bytes.Buffer
	code := top.Run(ctx, c.GRPC(), args, a.Stdout, &stderr)
	if code == dispatch.ExitOK {
		return nil
	}
	msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
	msg = strings.TrimPrefix(msg, "keyway top: ")
	if code == dispatch.ExitUsage {
		return dispatch.Usagef("%s", msg)
	}
	return errors.New(msg)
}
