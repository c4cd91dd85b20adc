package clusteremu

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"keyway.dev/dataplane/cluster"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func TestOf(t *testing.T) {
	on := &keywayv1.ClusterEmulation{Enabled: true, VirtualNodes: 4}
	pc := &keywayv1.ProxyConfig{Listeners: []*keywayv1.Listener{
		{Name: "cluster", ClusterEmulation: on},
		{Name: "off", ClusterEmulation: &keywayv1.ClusterEmulation{VirtualNodes: 4}},
		{Name: "plain"},
	}}
	for name, want := range map[string]*keywayv1.ClusterEmulation{"cluster": on, "off": nil, "plain": nil, "unknown": nil} {
		if got := Of(pc, name); got != want {
			t.Errorf("Of(%q) = %v, want %v", name, got, want)
		}
	}
}

func args(s string) [][]byte {
	var out [][]byte
	for _, f := range strings.Fields(s) {
		out = append(out, []byte(f))
	}
	return out
}

func TestOneAddressCarriesEveryVirtualNode(t *testing.T) {
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7000}
	c := New(&keywayv1.ClusterEmulation{Enabled: true, VirtualNodes: 2}, "main", local, nil)
	b, refusal := c.Answer(nil, args("CLUSTER NODES"), false)
	if refusal != "" {
		t.Fatal(refusal)
	}
	lines := strings.Split(strings.TrimSpace(string(b[strings.Index(string(b), "\r\n")+2:])), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d nodes, want 2: %q", len(lines), b)
	}
	if !strings.Contains(lines[0], "127.0.0.1:7000@7000 myself,master") || !strings.HasSuffix(lines[0], " 0-8191") {
		t.Errorf("first node %q", lines[0])
	}
	if !strings.Contains(lines[1], "127.0.0.1:7000@7000 master") || !strings.HasSuffix(lines[1], " 8192-16383") {
		t.Errorf("second node %q", lines[1])
	}
	if strings.Fields(lines[0])[0] == strings.Fields(lines[1])[0] {
		t.Error("two virtual nodes at one address share an id")
	}
}

func TestSeveralAddressesOneNodeEach(t *testing.T) {
	addrs := SortAddrs([]Addr{{"127.0.0.1", 7002}, {"127.0.0.1", 7001}, {"127.0.0.1", 7002}})
	if len(addrs) != 2 || addrs[0].Port != 7001 {
		t.Fatalf("SortAddrs = %v", addrs)
	}
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7002}
	c := New(&keywayv1.ClusterEmulation{Enabled: true, VirtualNodes: 9}, "main", local, addrs)
	if len(c.nodes) != 2 || c.self != 1 {
		t.Fatalf("%d nodes, self %d; want 2 and the second", len(c.nodes), c.self)
	}
	b, refusal := c.Answer(nil, args("cluster myid"), false)
	if refusal != "" || !strings.Contains(string(b), c.nodes[1].id) {
		t.Fatalf("MYID = %q %q, want the second node's id", b, refusal)
	}
}

func TestAnswerRefusals(t *testing.T) {
	c := New(nil, "main", nil, nil)
	if len(c.nodes) != DefaultVirtualNodes {
		t.Fatalf("%d nodes without a policy value, want %d", len(c.nodes), DefaultVirtualNodes)
	}
	tests := []struct{ cmd, want string }{
		{"CLUSTER KEYSLOT", "ERR wrong number of arguments for 'cluster|keyslot' command"},
		{"CLUSTER KEYSLOT a b", "ERR wrong number of arguments for 'cluster|keyslot' command"},
		{"CLUSTER FAILOVER", "ERR keyway: CLUSTER FAILOVER is not available through the proxy, which emulates a cluster (SLOTS, SHARDS, NODES, INFO, MYID, KEYSLOT)"},
		{"CLUSTER " + strings.Repeat("x", 100), "ERR keyway: CLUSTER " + strings.Repeat("X", 64) + " is not available"},
	}
	for _, tt := range tests {
		b, refusal := c.Answer([]byte("kept"), args(tt.cmd), false)
		if !strings.HasPrefix(refusal, tt.want) || string(b) != "kept" {
			t.Errorf("%s: %q, %q; want %q and b untouched", tt.cmd, b, refusal, tt.want)
		}
	}
	b, _ := c.Answer(nil, args("CLUSTER KEYSLOT foo"), false)
	if want := ":" + strconv.Itoa(int(cluster.Slot([]byte("foo")))) + "\r\n"; string(b) != want {
		t.Errorf("KEYSLOT foo = %q, want %q", b, want)
	}
}
