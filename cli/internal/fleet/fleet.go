// Package fleet implements `keyway fleet`: the proxies subscribed to the
// control plane, what each one applied and the last thing it refused.
package fleet

import (
	"context"
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

// Command returns the `fleet` command bound to a.
func Command(a *app.App) *dispatch.Command {
	return &dispatch.Command{
		Name:    "fleet",
		Short:   "List proxies: connection, applied versions, last NACK, load",
		Usage:   "[NODE...] [flags]",
		MaxArgs: -1,
		Long: `One row per proxy the control plane knows. APPLIED is the version each
resource type runs (one value when all agree). LAST NACK is the last
version the proxy refused and why; the table truncates the reason, -o json
shows it whole. NODE arguments show only those proxies. Below, the version the control plane serves each workload
domain: the active one, the one a completed rollout pinned it to, or a
rollout in progress.`,
		Examples: []string{
			"keyway fleet",
			"keyway fleet -o json | jq '.nodes[] | select(.last_nack != null)'",
		},
		Run: func(ctx context.Context, only []string) error {
			var resp *keywayv1.ListNodesResponse
			err := a.Call(ctx, func(ctx context.Context, c *client.Conn) error {
				var err error
				resp, err = c.Fleet.ListNodes(ctx, &keywayv1.ListNodesRequest{})
				return err
			})
			if err != nil {
				return err
			}
			nodes, err := pick(resp.GetNodes(), only)
			if err != nil {
				return err
			}
			sort.SliceStable(nodes, func(i, j int) bool { return nodes[i].GetId() < nodes[j].GetId() })
			if a.JSON() {
				return output.WriteJSON(a.Stdout, toJSON(nodes, resp.GetDomains()))
			}
			if err := table(a, nodes); err != nil {
				return err
			}
			return policy.DomainTable(a, resp.GetDomains())
		},
	}
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

// pick keeps the nodes named in only (all when it is empty); a name the
// control plane does not know is an error that lists the known ones.
func pick(all []*keywayv1.Node, only []string) ([]*keywayv1.Node, error) {
	if len(only) == 0 {
		return append([]*keywayv1.Node(nil), all...), nil
	}
	byID := map[string]*keywayv1.Node{}
	known := make([]string, 0, len(all))
	for _, n := range all {
		byID[n.GetId()] = n
		known = append(known, n.GetId())
	}
	sort.Strings(known)
	var out []*keywayv1.Node
	for _, id := range only {
		n := byID[id]
		if n == nil {
			return nil, fmt.Errorf("no proxy %q in the fleet (known: %s)", id, output.Dash(strings.Join(known, ", ")))
		}
		out = append(out, n)
	}
	return out, nil
}
