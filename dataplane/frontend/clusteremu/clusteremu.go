// Package clusteremu presents the proxy as a Redis Cluster on a
// listener whose policy enables it: it answers the CLUSTER commands a
// cluster-aware client asks as a cluster whose slots are split over
// virtual nodes, all of them this proxy: one per address the listener
// serves, or, with a single address, the policy's virtual_nodes at the
// address the client reached. The client spreads its keys over the
// virtual nodes and sends everything back here, and the proxy, which
// routes by key itself, never answers MOVED or ASK.
package clusteremu

import (
	"cmp"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"strings"

	"keyway.dev/dataplane/cluster"
	"keyway.dev/dataplane/frontend/answer"
	"keyway.dev/dataplane/resp"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// DefaultVirtualNodes is the split when the policy gives none.
const DefaultVirtualNodes = 3

// Of is the cluster emulation of listener under pc, nil when it is off.
func Of(pc *keywayv1.ProxyConfig, listener string) *keywayv1.ClusterEmulation {
	for _, l := range pc.GetListeners() {
		if l.GetName() == listener {
			if e := l.GetClusterEmulation(); e.GetEnabled() {
				return e
			}
			return nil
		}
	}
	return nil
}

// Addr is one address a listener serves, as a cluster client should
// dial it.
type Addr struct {
	Host string
	Port int
}

// SortAddrs sorts addrs and drops repeats, so that every connection,
// whichever address it came in on, describes the same cluster.
func SortAddrs(addrs []Addr) []Addr {
	slices.SortFunc(addrs, func(a, b Addr) int {
		return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.Port, b.Port))
	})
	return slices.Compact(addrs)
}

// node is one virtual node of the emulated cluster.
type node struct {
	id       string
	host     string
	port     int
	from, to int // slot range, inclusive
}

// Cluster is the emulated cluster as one connection sees it.
type Cluster struct {
	nodes []node
	self  int // the node the connection reached ("myself")
}

// New splits the slots evenly over the virtual nodes of listener, whose
// addresses (SortAddrs) are addrs, for a connection that reached local.
// When the listener has several addresses (keyway-proxy
// --cluster-listen), there is one virtual node per address, so cluster
// clients, which pool connections per address, open parallel ones; with
// one address, the policy's virtual_nodes all carry it. IDs are stable
// for a listener and address, as a real node's are across its life.
func New(e *keywayv1.ClusterEmulation, listener string, local net.Addr, addrs []Addr) Cluster {
	self := 0
	at := Addr{Host: "127.0.0.1", Port: 6380}
	if a, ok := local.(*net.TCPAddr); ok {
		at = Addr{Host: a.IP.String(), Port: a.Port}
	}
	if len(addrs) <= 1 {
		n := int(e.GetVirtualNodes())
		if n <= 0 {
			n = DefaultVirtualNodes
		}
		addrs = slices.Repeat([]Addr{at}, min(n, cluster.Slots))
	} else if i := slices.Index(addrs, at); i >= 0 {
		self = i
	}
	n := len(addrs)
	nodes := make([]node, n)
	for i, a := range addrs {
		id := fmt.Appendf(nil, "keyway/%s/%s:%d", listener, a.Host, a.Port)
		if n > 1 && addrs[0] == addrs[n-1] {
			id = fmt.Appendf(id, "/%d", i) // one address: tell its nodes apart
		}
		sum := sha1.Sum(id)
		nodes[i] = node{
			id:   hex.EncodeToString(sum[:]),
			host: a.Host,
			port: a.Port,
			from: i * cluster.Slots / n,
			to:   (i+1)*cluster.Slots/n - 1,
		}
	}
	return Cluster{nodes: nodes, self: self}
}

// Answer appends to b the reply to CLUSTER args[1:] (args[0] is CLUSTER
// and args has at least two elements), in RESP3 when resp3 is set. A
// subcommand the emulation does not give, or a wrong number of
// arguments, returns b unchanged and the error to answer instead.
func (c Cluster) Answer(b []byte, args [][]byte, resp3 bool) ([]byte, string) {
	nodes, self := c.nodes, c.self
	switch sub := strings.ToUpper(string(args[1])); sub {
	case "SLOTS":
		b = resp.AppendArray(b, len(nodes))
		for _, n := range nodes {
			b = resp.AppendArray(b, 3)
			b = resp.AppendInt(b, int64(n.from))
			b = resp.AppendInt(b, int64(n.to))
			b = resp.AppendArray(b, 4)
			b = resp.AppendBulkString(b, n.host)
			b = resp.AppendInt(b, int64(n.port))
			b = resp.AppendBulkString(b, n.id)
			b = resp.AppendArray(b, 0)
		}
	case "SHARDS":
		b = resp.AppendArray(b, len(nodes))
		for _, n := range nodes {
			b = resp.AppendMap(b, 2, resp3)
			b = resp.AppendBulkString(b, "slots")
			b = resp.AppendArray(b, 2)
			b = resp.AppendInt(b, int64(n.from))
			b = resp.AppendInt(b, int64(n.to))
			b = resp.AppendBulkString(b, "nodes")
			b = resp.AppendArray(b, 1)
			b = resp.AppendMap(b, 7, resp3)
			for _, kv := range [][2]string{{"id", n.id}, {"ip", n.host}, {"endpoint", n.host}, {"role", "master"}, {"health", "online"}} {
				b = resp.AppendBulkString(b, kv[0])
				b = resp.AppendBulkString(b, kv[1])
			}
			b = resp.AppendBulkString(b, "port")
			b = resp.AppendInt(b, int64(n.port))
			b = resp.AppendBulkString(b, "replication-offset")
			b = resp.AppendInt(b, 0)
		}
	case "NODES":
		var s strings.Builder
		for i, n := range nodes {
			flags := "master"
			if i == self {
				flags = "myself,master"
			}
			fmt.Fprintf(&s, "%s %s:%d@%d %s - 0 0 %d connected %d-%d\n", n.id, n.host, n.port, n.port, flags, i+1, n.from, n.to)
		}
		b = resp.AppendVerbatim(b, s.String(), resp3)
	case "INFO":
		b = resp.AppendVerbatim(b, fmt.Sprintf("cluster_enabled:1\r\ncluster_state:ok\r\ncluster_slots_assigned:%d\r\ncluster_slots_ok:%d\r\n"+
			"cluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:%d\r\ncluster_size:%d\r\n"+
			"cluster_current_epoch:%d\r\ncluster_my_epoch:1\r\n",
			cluster.Slots, cluster.Slots, len(nodes), len(nodes), len(nodes)), resp3)
	case "MYID":
		b = resp.AppendBulkString(b, nodes[self].id)
	case "KEYSLOT":
		if len(args) != 3 {
			return b, answer.ArityError("cluster|keyslot")
		}
		b = resp.AppendInt(b, int64(cluster.Slot(args[2])))
	default:
		return b, "ERR keyway: CLUSTER " + answer.Truncate(sub, 64) + " is not available through the proxy, which emulates a cluster (SLOTS, SHARDS, NODES, INFO, MYID, KEYSLOT)"
	}
	return b, ""
}
