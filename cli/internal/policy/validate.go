package policy

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sort"
	"strings"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/client"
	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/output"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Summary is the JSON form of `policy validate`.
type Summary struct {
	Path      string   `json:"path"`
	OK        bool     `json:"ok"`
	Error     string   `json:"error,omitempty"`
	Entry     string   `json:"entry,omitempty"`
	Files     int      `json:"files"`
	Domains   []string `json:"domains"`
	Upstreams []string `json:"upstreams"`
	Tests     int      `json:"tests"`
	// Remote is set with --remote: the control plane accepted it too.
	Remote bool `json:"remote"`
}

func validateCommand(a *app.App) *dispatch.Command {
	var remote bool
	return &dispatch.Command{
		Name:    "validate",
		Short:   "Render a policy locally and summarise it, or show its errors",
		Usage:   "PATH [--remote]",
		MinArgs: 1, MaxArgs: 1,
		Long: `Renders the bundle at PATH (a directory or a .star file) with the same
code the control plane uses, then prints its domains, upstreams and tests.
Errors are printed as file:line:col: message. Nothing is stored.`,
		Examples: []string{
			"keyway policy validate policies/examples/quickstart",
			"keyway policy validate main.star --remote",
			"keyway policy validate policies/examples/quickstart -o json",
		},
		Flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&remote, "remote", false, "also ask the control plane to validate it")
		},
		Run: func(ctx context.Context, args []string) error {
			return validate(ctx, a, args[0], remote)
		},
	}
}

func validate(ctx context.Context, a *app.App, path string, remote bool) error {
	s := Summary{Path: path}
	bundle, pol, err := renderLocal(ctx, a, path)
	if err == nil && remote {
		err = a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
			_, err := c.Policy.Validate(ctx, &keywayv1.ValidateRequest{Bundle: bundle})
			return err
		})
		s.Remote = err == nil
	}
	if err != nil {
		if a.JSON() {
			s.Error = err.Error()
			if werr := output.WriteJSON(a.Stdout, s); werr != nil {
				return werr
			}
		}
		return err
	}
	s.OK, s.Entry, s.Files = true, bundle.GetEntry(), len(bundle.GetFiles())
	s.Domains, s.Upstreams, s.Tests = domainNames(pol), upstreamNames(pol), len(pol.GetTests())
	if a.JSON() {
		return output.WriteJSON(a.Stdout, s)
	}
	fmt.Fprintf(a.Stdout, "%s: ok\n", path)
	fmt.Fprintf(a.Stdout, "  domains:    %d %s\n", len(s.Domains), list(s.Domains))
	fmt.Fprintf(a.Stdout, "  upstreams:  %d %s\n", len(s.Upstreams), list(s.Upstreams))
	fmt.Fprintf(a.Stdout, "  tests:      %d\n", s.Tests)
	if remote {
		fmt.Fprintf(a.Stdout, "  remote:     ok (%s)\n", a.Addr)
	}
	return nil
}

// renderLocal loads and renders the bundle at path on this machine.
func renderLocal(ctx context.Context, a *app.App, path string) (*keywayv1.Bundle, *keywayv1.Policy, error) {
	if a.Renderer == nil {
		return nil, nil, errors.New("this keyway was built without a policy renderer")
	}
	bundle, err := a.Renderer.LoadBundle(path)
	if err != nil {
		// LoadBundle's errors already name the path and the step.
		return nil, nil, err
	}
	pol, err := a.Renderer.Render(ctx, bundle)
	if err != nil {
		// Render errors already start with file:line:col; a prefix would
		// push the position out of the place editors look for it.
		return nil, nil, err
	}
	return bundle, pol, nil
}

func domainNames(p *keywayv1.Policy) []string {
	names := make([]string, 0, len(p.GetDomains()))
	for _, d := range p.GetDomains() {
		names = append(names, d.GetName())
	}
	sort.Strings(names)
	return names
}

func upstreamNames(p *keywayv1.Policy) []string {
	names := make([]string, 0, len(p.GetUpstreams()))
	for _, u := range p.GetUpstreams() {
		names = append(names, u.GetName())
	}
	sort.Strings(names)
	return names
}

func list(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return "(" + strings.Join(names, ", ") + ")"
}
