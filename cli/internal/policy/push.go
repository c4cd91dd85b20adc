package policy

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"context"
	"errors"
	"flag"
	"fmt"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/client"
	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/output"
	keywayv1 "keyway.dev/proto/keyway/v1"
	"keyway.dev/proto/testrun"
)

func pushCommand(a *app.App) *dispatch.Command {
	var (
		msg, author string
		parent      string
		force, hold bool
		skipTests   bool
	)
	return &dispatch.Command{
		Name:    "push",
		Short:   "Store a policy as a new version and activate it",
		Usage:   "PATH -m MSG [--author NAME] [--parent N] [--force] [--no-activate] [--skip-tests]",
		MinArgs: 1, MaxArgs: 1,
		Long: `Renders PATH locally (so errors show before anything is sent), runs
its test(...) cases through the proxy's real engine tree as
'keyway policy test' does, and refuses to push when one fails, naming
each failing case's file:line:col. The control plane runs them again, so
a push through the API cannot skip them. --skip-tests pushes without
running them, for emergencies; the audit log records it. Then it pushes
on top of the current head. The push is a compare-and-swap: if
someone else pushed since the head was read, it fails with a conflict and
nothing is stored. --parent names the head explicitly; --force skips the
check. A bundle identical to the head (and already active, unless
--no-activate) stores nothing: the command says "no change since vN" and
exits 0; with -o json it prints {"unchanged": true, "message": ...}.`,
		Examples: []string{
			"keyway policy push policies/examples/quickstart -m \"first version\"",
			"keyway policy push ./mypolicy -m \"split reads\" --parent v4",
			"keyway policy push main.star -m \"stage only\" --no-activate -o json",
		},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&msg, "m", "", "`MSG` saying what changed and why (required)")
			fs.StringVar(&msg, "message", "", "`MSG` saying what changed and why (required)")
			fs.StringVar(&author, "author", "", "`NAME` recorded as the author (default $USER@hostname)")
			fs.StringVar(&parent, "parent", "", "the `version` this push is based on (default the current head)")
			fs.BoolVar(&force, "force", false, "push even if the head moved")
			fs.BoolVar(&hold, "no-activate", false, "store the version without activating it")
			fs.BoolVar(&skipTests, "skip-tests", false, "push without running the policy's test cases, here and on the control plane (recorded in the audit log)")
		},
		Run: func(ctx context.Context, args []string) error {
			if msg == "" {
				return dispatch.Usagef("policy push: a message is required (-m \"what changed and why\")")
			}
			req := &keywayv1.PushRequest{Message: msg, Author: author, Force: force, NoActivate: hold, SkipTests: skipTests}
			explicit := parent != ""
			if explicit {
				// --parent 0 is legal: "I expect the fleet to have no version".
				if parent != "0" && parent != "v0" {
					n, err := ParseVersion(parent)
					if err != nil {
						return err
					}
					req.Parent = n
				}
			}
			if req.Author == "" {
				req.Author = defaultAuthor(a)
			}
			return push(ctx, a, args[0], req, explicit)
		},
	}
}

func push(ctx context.Context, a *app.App, path string, req *keywayv1.PushRequest, explicitParent bool) error {
	bundle, pol, err := renderLocal(ctx, a, path)
	if err != nil {
		return err
	}
	if !req.SkipTests {
		if err := runTests(ctx, a, pol); err != nil {
			return err
		}
	}
	req.Bundle = bundle
	var got *keywayv1.PolicyVersionInfo
	var unchanged string
	err = a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
		if !explicitParent {
			head, err := c.Policy.ListVersions(ctx, &keywayv1.ListVersionsRequest{Limit: 1})
			if err != nil {
				return err
			}
			req.Parent = head.GetHead()
		}
		resp, err := c.Policy.Push(ctx, req)
		if status.Code(err) == codes.AlreadyExists {
			unchanged = status.Convert(err).Message()
			return nil
		}
		if err != nil {
			return err
		}
		got = resp.GetVersion()
		return nil
	})
	if err != nil {
		return err
	}
	if unchanged != "" {
		// Nothing to do is success: a deploy job that pushes on every
		// merge must not fail when the policy did not change.
		if a.JSON() {
			return output.WriteJSON(a.Stdout, UnchangedJSON{Unchanged: true, Message: unchanged})
		}
		_, err := fmt.Fprintln(a.Stdout, unchanged)
		return err
	}
	if a.JSON() {
		return output.WriteJSON(a.Stdout, infoJSON(got))
	}
	based := "parent " + Name(got.GetParent())
	if got.GetParent() == 0 {
		based = "first version"
	}
	if req.NoActivate {
		based += ", not activated"
	}
	fmt.Fprintf(a.Stdout, "pushed %s (%s): %s\n", Name(got.GetVersion()), based, got.GetMessage())
	return nil
}

// UnchangedJSON is the JSON form of a push identical to the head.
type UnchangedJSON struct {
	Unchanged bool   `json:"unchanged"`
	Message   string `json:"message"`
}

// defaultAuthor is $USER@hostname, the way commits are signed by default.
func defaultAuthor(a *app.App) string {
	user := "unknown"
	if a.Getenv != nil {
		for _, k := range []string{"USER", "LOGNAME"} {
			if v := a.Getenv(k); v != "" {
				user = v
				break
			}
		}
	}
	if a.Hostname == nil {
		return user
	}
	host, err := a.Hostname()
	if err != nil || host == "" {
		return user
	}
	return user + "@" + host
}

// caseRunner runs a policy's test cases on this machine; the real
// renderer (package local) does it with the proxy's engines.
type caseRunner interface {
	RunTests(ctx context.Context, p *keywayv1.Policy) []testrun.Result
}

// runTests runs pol's test cases as `keyway policy test` does and fails
// with one line per failing case, each starting with its file:line:col.
func runTests(ctx context.Context, a *app.App, pol *keywayv1.Policy) error {
	if len(pol.GetTests()) == 0 {
		return nil
	}
	run, ok := a.Renderer.(caseRunner)
	if !ok {
		return errors.New("this keyway cannot run policy tests; push with --skip-tests")
	}
	var failed testrun.Failures
	for _, r := range run.RunTests(ctx, pol) {
		if !r.Pass {
			failed = append(failed, r)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%w\nnothing pushed; 'keyway policy test' shows each path (--skip-tests pushes anyway, for emergencies; it is audited)", failed)
	}
	return nil
}
