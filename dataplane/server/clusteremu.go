package server

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"strings"

	"keyway.dev/dataplane/cluster"
	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Cluster emulation: on a listener whose policy enables it, the proxy
// answers the CLUSTER commands a cluster-aware client asks as a Redis
// Cluster whose slots are split over virtual nodes, all of them this
// proxy: one per address the listener serves (clusteraddrs.go), or,
// with a single address, the policy's virtual_nodes at the address the
// client reached. The client spreads its keys over the virtual nodes and
// sends everything back here, and the proxy, which routes by key itself,
// never answers MOVED or ASK.

// defaultVirtualNodes is the split when the policy gives none.
const defaultVirtualNodes = 3

var (
	clusterLocal = &local{name: "cluster", arity: -2, fn: (*client).cluster}
	askingLocal  = &local{name: "asking", arity: 1, fn: (*client).ok}
)

// emulated returns the handler of CLUSTER or ASKING when the client's
// listener emulates a cluster, else nil and the command is forwarded.
func (c *client) emulated(st *engine.State, name []byte) *local {
	var l *local
	switch {
	case bytes.EqualFold(name, []byte("CLUSTER")):
		l = clusterLocal
	case bytes.EqualFold(name, []byte("ASKING")):
		l = askingLocal
	default:
		return nil
	}
	if c.emulation(st) == nil {
		return nil
	}
	return l
}

// emulation is the cluster emulation of the client's listener, nil when
// it is off.
func (c *client) emulation(st *engine.State) *keywayv1.ClusterEmulation {
	if st == nil {
		return nil
	}
	for _, l := range st.Proxy.GetListeners() {
		if l.GetName() == c.sess.Listener {
			if e := l.GetClusterEmulation(); e.GetEnabled() {
				return e
			}
			return nil
		}
	}
	return nil
}

// vnode is one virtual node of the emulated cluster.
type vnode struct {
	id       string
	host     string
	port     int
	from, to int // slot range, inclusive
}

// vnodes splits the slots evenly over the listener's virtual nodes and
// returns them with the index of the one the client is connected to
// ("myself"). When the listener has several addresses (keyway-proxy
// --cluster-listen), there is one virtual node per address, so cluster
// clients, which pool connections per address, open parallel ones; with
// one address, the policy's virtual_nodes all carry it. IDs are stable
// for a listener and address, as a real node's are across its life.
func (c *client) vnodes(e *keywayv1.ClusterEmulation) (nodes []vnode, self int) {
	local := vaddr{host: "127.0.0.1", port: 6380}
	var ip net.IP
	if a, ok := c.rc.NetConn().LocalAddr().(*net.TCPAddr); ok {
		ip = a.IP
		local = vaddr{host: a.IP.String(), port: a.Port}
	}
	addrs := c.srv.listenerAddrs(c.sess.Listener, ip)
	if len(addrs) <= 1 {
		n := int(e.GetVirtualNodes())
		if n <= 0 {
			n = defaultVirtualNodes
		}
		addrs = slices.Repeat([]vaddr{local}, min(n, cluster.Slots))
	} else if i := slices.Index(addrs, local); i >= 0 {
		self = i
	}
	n := len(addrs)
	nodes = make([]vnode, n)
	for i, a := range addrs {
		id := fmt.Appendf(nil, "keyway/%s/%s:%d", c.sess.Listener, a.host, a.port)
		if n > 1 && addrs[0] == addrs[n-1] {
			id = fmt.Appendf(id, "/%d", i) // one address: tell its nodes apart
		}
		sum := sha1.Sum(id)
		nodes[i] = vnode{
			id:   hex.EncodeToString(sum[:]),
			host: a.host,
			port: a.port,
			from: i * cluster.Slots / n,
			to:   (i+1)*cluster.Slots/n - 1,
		}
	}
	return nodes, self
}

// cluster answers the CLUSTER subcommands a cluster client needs.
func (c *client) cluster(st *engine.State, args [][]byte) bool {
	nodes, self := c.vnodes(c.emulation(st))
	resp3 := c.resp3()
	b := c.out[:0]
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
			c.writeError(arityError("cluster|keyslot"))
			return true
		}
		b = resp.AppendInt(b, int64(cluster.Slot(args[2])))
	default:
		c.writeError("ERR keyway: CLUSTER " + truncate(sub, 64) + " is not available through the proxy, which emulates a cluster (SLOTS, SHARDS, NODES, INFO, MYID, KEYSLOT)")
		return true
	}
	c.out = b
	c.write(b)
	return true
}
