// Package fleet implements `keyway fleet`: the proxies subscribed to the
// control plane, what each one applied and the last thing it refused.
package fleet

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strings"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/client"
	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/output"
	"keyway.dev/cli/internal/policy"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// nackWidth keeps the table one line per node; -o json has the full text.
const nackWidth = 48

// maxPageSize is the control plane's cap on a page (admin.MaxPageSize).
const maxPageSize = 1000

// filters are the flags that narrow `keyway fleet`, applied by the
// control plane.
type filters struct {
	version      string
	nacked       bool
	disconnected bool
	domain       string
	pageSize     int
}

// Command returns the `fleet` command bound to a.
func Command(a *app.App) *dispatch.Command {
	var f filters
	return &dispatch.Command{
		Name:    "fleet",
		Short:   "List proxies: connection, applied versions, last NACK, load",
		Usage:   "[NODE...] [flags]",
		MaxArgs: -1,
		Long: `One row per proxy the control plane knows. APPLIED is the version each
resource type runs (one value when all agree). LAST NACK is the last
version the proxy refused and why; the table truncates the reason, -o json
shows it whole. NODE arguments show only those proxies; --version,
--nacked, --disconnected and --domain narrow the list on the control plane.
A summary line counts the proxies listed and how many run which version.
Below, the version the control plane serves each workload
domain: the active one, the one a completed rollout pinned it to, or a
rollout in progress.

The control plane answers in pages of --page-size proxies; -o json writes
one object per page as it arrives (a single object for a fleet of one
page), each with the summary.`,
		Examples: []string{
			"keyway fleet",
			"keyway fleet --nacked",
			"keyway fleet --version v3 --disconnected",
			"keyway fleet -o json | jq '.nodes[] | select(.last_nack != null)'",
		},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&f.version, "version", "", "only proxies running this policy `version` (v3) or applied version (v3-0123abcd)")
			fs.BoolVar(&f.nacked, "nacked", false, "only proxies still refusing a version they were sent")
			fs.BoolVar(&f.disconnected, "disconnected", false, "only proxies with no stream to the control plane")
			fs.StringVar(&f.domain, "domain", "", "only proxies holding client connections in this workload `domain` (from their telemetry)")
			fs.IntVar(&f.pageSize, "page-size", 500, fmt.Sprintf("proxies per page the control plane sends (`N`, 1 to %d)", maxPageSize))
		},
		Run: func(ctx context.Context, only []string) error {
			if f.pageSize < 1 || f.pageSize > maxPageSize {
				return fmt.Errorf("--page-size %d: want 1 to %d", f.pageSize, maxPageSize)
			}
			req := &keywayv1.ListNodesRequest{
				PageSize: int32(f.pageSize), Version: f.version, Nacked: f.nacked,
				Disconnected: f.disconnected, Domain: f.domain, Ids: only,
			}
			var first *keywayv1.ListNodesResponse
			var nodes []*keywayv1.Node
			err := a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
				for {
					resp, err := c.Fleet.ListNodes(ctx, req)
					if err != nil {
						return err
					}
					if first == nil {
						first = resp
					}
					if a.JSON() && len(only) == 0 {
						// Streamed: a fleet of thousands need not be held here.
						if err := output.WriteJSON(a.Stdout, toJSON(resp.GetNodes(), resp.GetDomains(), resp.GetSummary())); err != nil {
							return err
						}
					} else {
						nodes = append(nodes, resp.GetNodes()...)
					}
					if resp.GetNextPageToken() == "" {
						return nil
					}
					req.PageToken = resp.GetNextPageToken()
				}
			})
			if err != nil {
				return err
			}
			if a.JSON() && len(only) == 0 {
				return nil
			}
			if f == (filters{pageSize: f.pageSize}) {
				// With filters, a named proxy may be one they leave out.
				if err := missing(ctx, a, nodes, only); err != nil {
					return err
				}
			}
			if a.JSON() {
				return output.WriteJSON(a.Stdout, toJSON(nodes, first.GetDomains(), first.GetSummary()))
			}
			if err := table(a, nodes); err != nil {
				return err
			}
			if len(nodes) > 0 {
				if _, err := fmt.Fprintln(a.Stdout, summaryLine(first.GetSummary())); err != nil {
					return err
				}
			}
			return policy.DomainTable(a, first.GetDomains())
		},
	}
}

// summaryLine is "3 proxies, 2 connected: 1 on v2, 1 on v3; 1 refusing a
// version".
func summaryLine(s *keywayv1.FleetSummary) string {
	line := fmt.Sprintf("%d %s, %d connected", s.GetNodes(), plural(s.GetNodes(), "proxy", "proxies"), s.GetConnected())
	versions := make([]string, 0, len(s.GetVersions()))
	for v := range s.GetVersions() {
		versions = append(versions, v)
	}
	sort.Strings(versions)
	for i, v := range versions {
		sep := ", "
		if i == 0 {
			sep = ": "
		}
		name := "on " + v
		if v == "" {
			name = "on no version yet"
		}
		line += fmt.Sprintf("%s%d %s", sep, s.GetVersions()[v], name)
	}
	if s.GetNacked() > 0 {
		line += fmt.Sprintf("; %d refusing a version", s.GetNacked())
	}
	return line
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func table(a *app.App, nodes []*keywayv1.Node) error {
	if len(nodes) == 0 {
		_, err := fmt.Fprintf(a.Stdout, "no proxies have connected to %s\n", a.Addr)
		return err
	}
	tw := output.NewTable(a.Stdout, "NODE", "CONNECTED", "POLICY", "APPLIED", "LAST NACK", "LAST SEEN", "QPS", "CONNS")
	now := a.Now()
	for _, n := range nodes {
		connected := "no"
		if n.GetConnected() {
			connected = "yes"
		}
		output.Row(tw, n.GetId(), connected, output.Dash(n.GetPolicyVersion()), Applied(n.GetApplied()),
			output.Truncate(nackText(n.GetLastNack()), nackWidth), output.Age(now, output.TimeOf(n.GetLastSeen())),
			qps(n.GetQps()), fmt.Sprint(n.GetConnections()))
	}
	return tw.Flush()
}

// Applied compacts the per-type versions: "v3" when every type agrees,
// else "Domain=v3,ProxyConfig=v2" sorted by type.
func Applied(m map[string]string) string {
	if len(m) == 0 {
		return "-"
	}
	types := make([]string, 0, len(m))
	for t := range m {
		types = append(types, t)
	}
	sort.Strings(types)
	same := true
	for _, t := range types[1:] {
		if m[t] != m[types[0]] {
			same = false
		}
	}
	if same {
		return output.Dash(m[types[0]])
	}
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = t + "=" + output.Dash(m[t])
	}
	return strings.Join(parts, ",")
}

func nackText(n *keywayv1.Nack) string {
	if n == nil || (n.GetVersion() == "" && n.GetError() == "") {
		return "-"
	}
	return output.Dash(n.GetVersion()) + ": " + output.FirstLine(n.GetError())
}

func qps(q float64) string {
	if q < 10 {
		return fmt.Sprintf("%.1f", q)
	}
	return fmt.Sprintf("%.0f", q)
}

// missing reports a node named in only that the control plane did not
// list; for a small fleet the error names the known proxies.
func missing(ctx context.Context, a *app.App, got []*keywayv1.Node, only []string) error {
	found := map[string]bool{}
	for _, n := range got {
		found[n.GetId()] = true
	}
	for _, id := range only {
		if found[id] {
			continue
		}
		// The filters may be what hid it; the known proxies are listed
		// only while they fit on a line.
		const listed = 20
		var resp *keywayv1.ListNodesResponse
		err := a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
			var err error
			resp, err = c.Fleet.ListNodes(ctx, &keywayv1.ListNodesRequest{PageSize: listed})
			return err
		})
		if err != nil || resp.GetNextPageToken() != "" {
			return fmt.Errorf("no proxy %q in the fleet", id)
		}
		known := make([]string, 0, len(resp.GetNodes()))
		for _, n := range resp.GetNodes() {
			known = append(known, n.GetId())
		}
		return fmt.Errorf("no proxy %q in the fleet (known: %s)", id, output.Dash(strings.Join(known, ", ")))
	}
	return nil
}
