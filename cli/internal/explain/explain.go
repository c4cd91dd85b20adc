// Package explain implements `keyway explain`: ask a live proxy, over
// RESP, which path a command would take through its connection's engine
// tree (KEYWAY.EXPLAIN), without running the command.
package explain

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/output"
)

// DefaultProxy is where `make demo` runs keyway-proxy's RESP listener.
const DefaultProxy = "127.0.0.1:6380"

// Report is the JSON form of `explain`.
type Report struct {
	Proxy   string   `json:"proxy"`
	Domain  string   `json:"domain,omitempty"`
	Command []string `json:"command"`
	Path    []string `json:"path"`
}

// Command returns the `explain` command.
func Command(a *app.App) *dispatch.Command {
	var proxy, domain string
	return &dispatch.Command{
		Name:    "explain",
		Short:   "Ask a live proxy which path a command would take, without running it",
		Usage:   "[--proxy ADDR] [--domain D] -- COMMAND [ARG...]",
		MinArgs: 1, MaxArgs: -1,
		Long: `Connects to a keyway-proxy over RESP and sends KEYWAY.EXPLAIN with the
command: the proxy walks its engine tree for the connection's workload
domain and answers one line per engine, ending at the upstream the command
would reach or the refusal it would get. Nothing is sent to Redis.

The proxy picks a connection's domain itself (by AUTH user, CLIENT SETNAME,
TLS certificate or listener). --domain checks that the connection landed
in the domain you meant and fails otherwise; connect to that domain's
listener with --proxy.`,
		Examples: []string{
			"keyway explain -- GET user:1",
			"keyway explain --proxy 10.0.0.7:6380 --domain web -- SET web:home x",
			"keyway explain -o json -- MGET a b",
		},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&proxy, "proxy", DefaultProxy, "keyway-proxy RESP `address` (host:port)")
			fs.StringVar(&domain, "domain", "", "fail unless the connection's workload `domain` is this one")
		},
		Run: func(ctx context.Context, args []string) error {
			return run(ctx, a, proxy, domain, args)
		},
	}
}

func run(ctx context.Context, a *app.App, proxy, domain string, args []string) error {
	ctx, cancel := context.WithTimeout(ctx, a.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", proxy)
	if err != nil {
		return fmt.Errorf("cannot reach the proxy at %s: %w (is keyway-proxy running? start one with `make demo`)", proxy, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return fmt.Errorf("set deadline: %w", err)
		}
	}
	c := newConn(conn)
	rep := Report{Proxy: proxy, Command: args}
	if domain != "" {
		got, err := connectionDomain(c)
		if err != nil {
			return err
		}
		if got != domain {
			return fmt.Errorf("the proxy at %s put this connection in domain %q, not %q (it picks the domain by AUTH user, CLIENT SETNAME, certificate or listener; use --proxy with %q's listener)", proxy, got, domain, domain)
		}
		rep.Domain = got
	}
	lines, err := c.do(append([]string{"KEYWAY.EXPLAIN"}, args...)...)
	if err != nil {
		return fmt.Errorf("explain at %s: %w", proxy, err)
	}
	rep.Path = lines
	if a.JSON() {
		return output.WriteJSON(a.Stdout, rep)
	}
	if rep.Domain != "" {
		fmt.Fprintf(a.Stdout, "domain %s: %s\n", rep.Domain, strings.Join(args, " "))
	}
	for _, l := range lines {
		fmt.Fprintln(a.Stdout, l)
	}
	return nil
}

// connectionDomain reads "domain=" from CLIENT INFO, which keyway-proxy
// appends to the fields Redis gives.
func connectionDomain(c *conn) (string, error) {
	lines, err := c.do("CLIENT", "INFO")
	if err != nil {
		return "", fmt.Errorf("client info: %w", err)
	}
	for _, l := range lines {
		for _, f := range strings.Fields(l) {
			if v, ok := strings.CutPrefix(f, "domain="); ok {
				return v, nil
			}
		}
	}
	return "", errors.New("the server did not say which domain this connection is in: is it a keyway-proxy?")
}
