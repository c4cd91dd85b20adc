// Package explain implements `keyway explain`: ask a live proxy, over
// RESP, which path a command would take through its connection's engine
// tree (KEYWAY.EXPLAIN), without running the command.
package explain

import (
	"context"
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
command: the proxy walks its engine tree and answers one line per engine,
ending at the upstream the command would reach or the refusal it would
get. Nothing is sent to Redis.

Without --domain the tree is the one of the domain the proxy puts this
connection in (by AUTH user, CLIENT SETNAME, TLS certificate or
listener). --domain D explains the command in domain D instead (the
stable or canary tree this connection would get there during a
rollout); a proxy whose policy requires AUTH lets a connection explain
only its own domain.`,
		Examples: []string{
			"keyway explain -- GET user:1",
			"keyway explain --proxy 10.0.0.7:6380 --domain web -- SET web:home x",
			"keyway explain -o json -- MGET a b",
		},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&proxy, "proxy", DefaultProxy, "keyway-proxy RESP `address` (host:port)")
			fs.StringVar(&domain, "domain", "", "explain in this workload `domain` instead of the connection's own")
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
	rep := Report{Proxy: proxy, Command: args, Domain: domain}
	cmd := []string{"KEYWAY.EXPLAIN"}
	if domain != "" {
		cmd = append(cmd, "DOMAIN", domain)
	}
	lines, err := c.do(append(cmd, args...)...)
	if err != nil {
		return fmt.Errorf("explain at %s: %w", proxy, err)
	}
	rep.Path = lines
	if domain != "" && len(lines) > 0 && strings.HasPrefix(lines[0], "domain ") {
		rep.Path = lines[1:] // the proxy's header: "domain D (stable tree, policy vN)"
	}
	if a.JSON() {
		return output.WriteJSON(a.Stdout, rep)
	}
	for _, l := range lines {
		fmt.Fprintln(a.Stdout, l)
	}
	return nil
}
