package fleet

import (
	keywayv1 "keyway.dev/proto/keyway/v1"

	"keyway.dev/cli/internal/output"
	"keyway.dev/cli/internal/policy"
)

// ListJSON is the JSON form of `keyway fleet`. Field names are part of the
// CLI's contract.
type ListJSON struct {
	Nodes []NodeJSON `json:"nodes"`
	// Domains is what the control plane serves each domain, pins and
	// rollouts included.
	Domains []policy.DomainJSON `json:"domains"`
	// Summary counts every proxy that passed the filters, not just this
	// page's.
	Summary SummaryJSON `json:"summary"`
}

// SummaryJSON counts the proxies listed.
type SummaryJSON struct {
	Proxies   int64 `json:"proxies"`
	Connected int64 `json:"connected"`
	Nacked    int64 `json:"nacked"`
	// Versions is connected proxies per policy version ("" for none yet).
	Versions map[string]int64 `json:"versions"`
}

// NodeJSON is one proxy.
type NodeJSON struct {
	ID            string            `json:"id"`
	Peer          string            `json:"peer"`
	Connected     bool              `json:"connected"`
	PolicyVersion string            `json:"policy_version"`
	Applied       map[string]string `json:"applied"`
	LastNack      *NackJSON         `json:"last_nack"`
	LastSeen      string            `json:"last_seen"`
	QPS           float64           `json:"qps"`
	Connections   int64             `json:"connections"`
	Listeners     []string          `json:"listeners"`
}

// NackJSON is the last version a proxy refused, with the full reason.
type NackJSON struct {
	Type    string `json:"type"`
	Version string `json:"version"`
	Error   string `json:"error"`
	Time    string `json:"time"`
}

func toJSON(nodes []*keywayv1.Node, domains []*keywayv1.DomainVersion, sum *keywayv1.FleetSummary) ListJSON {
	out := ListJSON{Nodes: make([]NodeJSON, 0, len(nodes)), Domains: policy.DomainsJSON(domains),
		Summary: SummaryJSON{Proxies: sum.GetNodes(), Connected: sum.GetConnected(), Nacked: sum.GetNacked(), Versions: sum.GetVersions()}}
	if out.Summary.Versions == nil {
		out.Summary.Versions = map[string]int64{}
	}
	for _, n := range nodes {
		j := NodeJSON{
			ID: n.GetId(), Peer: n.GetPeer(), Connected: n.GetConnected(), PolicyVersion: n.GetPolicyVersion(),
			Applied: n.GetApplied(), LastSeen: output.Stamp(output.TimeOf(n.GetLastSeen())),
			QPS: n.GetQps(), Connections: n.GetConnections(), Listeners: n.GetListeners(),
		}
		if j.Applied == nil {
			j.Applied = map[string]string{}
		}
		if j.Listeners == nil {
			j.Listeners = []string{}
		}
		if nk := n.GetLastNack(); nk != nil {
			j.LastNack = &NackJSON{Type: nk.GetType(), Version: nk.GetVersion(), Error: nk.GetError(), Time: output.Stamp(output.TimeOf(nk.GetTime()))}
		}
		out.Nodes = append(out.Nodes, j)
	}
	return out
}
