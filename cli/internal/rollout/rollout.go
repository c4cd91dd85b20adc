// Package rollout implements `keyway rollout`: moving one workload domain
// to another policy version in guarded steps, and watching, pausing,
// promoting or aborting it.
package rollout

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/client"
	"keyway.dev/cli/internal/dispatch"
	kflag "keyway.dev/cli/internal/flag"
	"keyway.dev/cli/internal/output"
	"keyway.dev/cli/internal/policy"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Command returns the `rollout` command group bound to a.
func Command(a *app.App) *dispatch.Command {
	return &dispatch.Command{
		Name:  "rollout",
		Short: "Move one domain to another policy version in guarded steps",
		Long: `A rollout runs a domain's stable tree (its current version) and a canary
tree (the target version) side by side on every proxy, assigning each
connection by stable hash. The control plane raises the canary's share
step by step, one step per interval once the canary has served traffic,
and aborts by itself when the canary's error rate or p99 over the last
interval is worse than its limit and than the stable track's. Other
domains are untouched. A completed rollout pins the domain to the target
version until the next activation, which is fleet-wide.`,
		Examples: []string{
			"keyway rollout start --domain checkout --to v7 --max-p99 20ms",
			"keyway rollout status --domain checkout",
			"keyway rollout abort --domain checkout --reason \"p99 regression\"",
		},
		Sub: []*dispatch.Command{
			startCommand(a),
			statusCommand(a),
			actionCommand(a, "pause", "Stop the step clock; the canary keeps its share"),
			actionCommand(a, "resume", "Restart the step clock where it stopped"),
			actionCommand(a, "promote", "Complete now: the target becomes the domain's stable version"),
			actionCommand(a, "abort", "Return the whole domain to its stable version"),
		},
	}
}

func startCommand(a *app.App) *dispatch.Command {
	var (
		domain, to, steps, author string
		interval, maxP99          time.Duration
		maxErr                    float64
	)
	return &dispatch.Command{
		Name:    "start",
		Short:   "Start moving a domain to a version",
		Usage:   "--domain D --to VERSION [--steps 1,10,50,100] [--interval 2m] [--max-error-rate R] [--max-p99 DURATION]",
		MaxArgs: 0,
		Examples: []string{
			"keyway rollout start --domain checkout --to v7",
			"keyway rollout start --domain checkout --to v7 --steps 5,25,100 --interval 10m --max-error-rate 0.001 --max-p99 20ms",
		},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&domain, "domain", "", "workload `domain` to move (required)")
			fs.StringVar(&to, "to", "", "target policy `version`, e.g. v7 (required)")
			fs.StringVar(&steps, "steps", "1,10,50,100", "canary `percentages`, increasing, ending at 100")
			fs.DurationVar(&interval, "interval", 2*time.Minute, "how long each step runs before the next")
			fs.Float64Var(&maxErr, "max-error-rate", 0.01, "abort when the canary's error `rate` (0-1) exceeds this and stable's; 1 disables")
			fs.DurationVar(&maxP99, "max-p99", 0, "abort when the canary's p99 exceeds this `duration` and stable's (0: no latency guard)")
			fs.StringVar(&author, "author", "", "`NAME` recorded in the audit log (default $USER@hostname)")
		},
		Run: func(ctx context.Context, _ []string) error {
			if domain == "" || to == "" {
				return dispatch.Usagef("rollout start: --domain and --to are required")
			}
			v, err := policy.ParseVersion(to)
			if err != nil {
				return err
			}
			st, err := parseSteps(steps)
			if err != nil {
				return err
			}
			if author == "" {
				author = kflag.Author(a)
			}
			req := &keywayv1.StartRolloutRequest{Domain: domain, ToVersion: v, Steps: st, Interval: durationpb.New(interval), MaxErrorRate: maxErr, Author: author}
			if maxP99 > 0 {
				req.MaxP99 = durationpb.New(maxP99)
			}
			var resp *keywayv1.StartRolloutResponse
			err = a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
				var err error
				resp, err = c.Rollouts.StartRollout(ctx, req)
				return err
			})
			if err != nil {
				return err
			}
			return show(a, resp.GetRollout(), nil, nil)
		},
	}
}

func statusCommand(a *app.App) *dispatch.Command {
	var domain string
	var all bool
	return &dispatch.Command{
		Name:    "status",
		Short:   "Show a domain's rollout (step, share, next step, guards, abort reason), or all",
		Usage:   "[--domain D] [--all]",
		MaxArgs: 0,
		Examples: []string{
			"keyway rollout status --domain checkout",
			"keyway rollout status",
			"keyway rollout status --all -o json",
		},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&domain, "domain", "", "show this workload `domain` in detail")
			fs.BoolVar(&all, "all", false, "without --domain, list finished rollouts too")
		},
		Run: func(ctx context.Context, _ []string) error {
			if domain == "" {
				var resp *keywayv1.ListRolloutsResponse
				err := a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
					var err error
					resp, err = c.Rollouts.ListRollouts(ctx, &keywayv1.ListRolloutsRequest{All: all})
					return err
				})
				if err != nil {
					return err
				}
				return list(a, resp)
			}
			var resp *keywayv1.GetRolloutResponse
			var versions *keywayv1.ListVersionsResponse
			err := a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
				var err error
				resp, err = c.Rollouts.GetRollout(ctx, &keywayv1.GetRolloutRequest{Domain: domain})
				if status.Code(err) == codes.NotFound {
					// No rollout ever: what the domain runs is the answer.
					versions, err = c.Policy.ListVersions(ctx, &keywayv1.ListVersionsRequest{Limit: 1})
				}
				return err
			})
			if err != nil {
				return err
			}
			if versions != nil {
				return noRollout(a, domain, versions)
			}
			return show(a, resp.GetRollout(), resp.GetPin(), resp.GetNextStep())
		},
	}
}

func actionCommand(a *app.App, name, short string) *dispatch.Command {
	var domain, author, reason string
	return &dispatch.Command{
		Name:     name,
		Short:    short,
		Usage:    "--domain D [--reason TEXT] [--author NAME]",
		MaxArgs:  0,
		Examples: []string{fmt.Sprintf("keyway rollout %s --domain checkout --reason \"checked the dashboards\"", name)},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&domain, "domain", "", "workload `domain` whose rollout to act on (required)")
			fs.StringVar(&reason, "reason", "", "why, recorded with the rollout and in the audit log")
			fs.StringVar(&author, "author", "", "`NAME` recorded in the audit log (default $USER@hostname)")
		},
		Run: func(ctx context.Context, _ []string) error {
			if domain == "" {
				return dispatch.Usagef("rollout %s: --domain is required", name)
			}
			if author == "" {
				author = kflag.Author(a)
			}
			var r *keywayv1.Rollout
			err := a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
				var err error
				r, err = act(ctx, c.Rollouts, name, domain, author, reason)
				return err
			})
			if err != nil {
				return err
			}
			return show(a, r, nil, nil)
		},
	}
}

func act(ctx context.Context, c keywayv1.RolloutServiceClient, name, domain, author, reason string) (*keywayv1.Rollout, error) {
	switch name {
	case "pause":
		resp, err := c.PauseRollout(ctx, &keywayv1.PauseRolloutRequest{Domain: domain, Author: author, Reason: reason})
		return resp.GetRollout(), err
	case "resume":
		resp, err := c.ResumeRollout(ctx, &keywayv1.ResumeRolloutRequest{Domain: domain, Author: author})
		return resp.GetRollout(), err
	case "promote":
		resp, err := c.PromoteRollout(ctx, &keywayv1.PromoteRolloutRequest{Domain: domain, Author: author, Reason: reason})
		return resp.GetRollout(), err
	default:
		resp, err := c.AbortRollout(ctx, &keywayv1.AbortRolloutRequest{Domain: domain, Author: author, Reason: reason})
		return resp.GetRollout(), err
	}
}

func parseSteps(s string) ([]uint32, error) {
	var out []uint32
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(part), "%")), 10, 32)
		if err != nil {
			return nil, dispatch.Usagef("bad --steps %q: want percentages like 1,10,50,100", s)
		}
		out = append(out, uint32(n))
	}
	return out, nil
}

// NoRolloutJSON is `rollout status --domain D -o json` for a domain that
// never had a rollout: the version it runs and a null rollout.
type NoRolloutJSON struct {
	Domain  string  `json:"domain"`
	Version uint64  `json:"version"`
	Name    string  `json:"name"`
	Rollout *string `json:"rollout"`
}

// noRollout prints the version a domain without rollouts runs, or fails
// when the active policy has no such domain.
func noRollout(a *app.App, domain string, versions *keywayv1.ListVersionsResponse) error {
	var names []string
	for _, d := range versions.GetDomains() {
		names = append(names, d.GetDomain())
		if d.GetDomain() != domain {
			continue
		}
		if a.JSON() {
			return output.WriteJSON(a.Stdout, NoRolloutJSON{Domain: domain, Version: d.GetVersion(), Name: policy.Name(d.GetVersion())})
		}
		_, err := fmt.Fprintf(a.Stdout, "domain:    %s\nversion:   %s\nrollout:   no rollout\n", domain, policy.DomainState(d))
		return err
	}
	if versions.GetActive() == 0 {
		return fmt.Errorf("domain %q: no policy version is active yet", domain)
	}
	return fmt.Errorf("domain %q is not in the active version %s (its domains: %s)", domain, policy.Name(versions.GetActive()), strings.Join(names, ", "))
}
