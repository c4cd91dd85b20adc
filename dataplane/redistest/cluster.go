package redistest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a running Redis Cluster on loopback: Primaries primaries,
// each with Replicas replicas, created with redis-cli --cluster create.
// Roles change under failover, so helpers ask the nodes who is what
// rather than trusting the order of Nodes.
type Cluster struct {
	// Nodes in creation order: the first Primaries are the initial
	// primaries.
	Nodes []*Server
	t     testing.TB
}

// ClusterNodeTimeout is the cluster-node-timeout of test clusters: short,
// so a killed primary is failed over in about a second and a half.
const ClusterNodeTimeout = 1000 * time.Millisecond

// StartCluster starts primaries*(1+replicas) redis-servers in cluster mode,
// joins them with redis-cli --cluster create and waits until every node
// reports cluster_state:ok and the same slot map. Every node is stopped
// when the test ends.
func StartCluster(t testing.TB, primaries, replicas int) *Cluster {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Fatalf("redistest: redis-cli not found (run `make deps`): %v", err)
	}
	c := &Cluster{t: t}
	n := primaries * (1 + replicas)
	for range n {
		// The bus port defaults to port+10000, which may be taken or
		// beyond 65535 for an ephemeral port, so it is chosen too.
		c.Nodes = append(c.Nodes, Start(t,
			"cluster-enabled yes",
			"cluster-config-file nodes.conf",
			"cluster-port "+NewPort,
			fmt.Sprintf("cluster-node-timeout %d", ClusterNodeTimeout.Milliseconds()),
			"cluster-replica-validity-factor 0",
		))
	}
	args := []string{"--cluster", "create"}
	for _, s := range c.Nodes {
		args = append(args, s.Addr)
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	c.cli(args...)
	c.WaitHealthy()
	c.waitFor("replicas in sync", func() error {
		synced := 0
		for _, s := range c.Nodes {
			info, err := s.tryDo("INFO", "replication")
			if err != nil {
				return err
			}
			if strings.Contains(info, "role:slave") && strings.Contains(info, "master_link_status:up") {
				synced++
			}
		}
		if want := primaries * replicas; synced != want {
			return fmt.Errorf("%d of %d replicas in sync", synced, want)
		}
		return nil
	})
	// Nodes list a replica in CLUSTER SHARDS as online and in CLUSTER
	// SLOTS at all only once gossip tells them its replication offset.
	c.waitFor("replicas online everywhere", func() error {
		for _, s := range c.Nodes {
			words, err := s.words("CLUSTER", "SHARDS")
			if err != nil {
				return err
			}
			online := 0
			for _, w := range words {
				if w == "online" {
					online++
				}
			}
			if online != n {
				return fmt.Errorf("%s sees %d of %d nodes online", s.Addr, online, n)
			}
		}
		return nil
	})
	c.WaitHealthy()
	return c
}

// cli runs redis-cli with args and fails the test if it fails.
func (c *Cluster) cli(args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("redistest: redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Alive returns the nodes that have not been killed.
func (c *Cluster) Alive() []*Server {
	var out []*Server
	for _, s := range c.Nodes {
		if s.cmd != nil {
			out = append(out, s)
		}
	}
	return out
}

// Seeds returns the addresses of every node, for a policy's seeds.
func (c *Cluster) Seeds() []string {
	out := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		out[i] = s.Addr
	}
	return out
}

// NodeInfo is one line of CLUSTER NODES.
type NodeInfo struct {
	ID      string
	Addr    string // host:port, without the bus port
	Primary bool
	Failed  bool
	// PrimaryID is the ID of the primary a replica follows.
	PrimaryID string
	// Slots as "start-end" or "slot" ranges.
	Slots []string
}

// Topology returns what node s believes the cluster is.
func (c *Cluster) Topology(s *Server) []NodeInfo {
	c.t.Helper()
	out, err := s.tryDo("CLUSTER", "NODES")
	if err != nil {
		c.t.Fatalf("redistest: cluster nodes on %s: %v", s.Addr, err)
	}
	return parseNodes(out)
}

func parseNodes(text string) []NodeInfo {
	var nodes []NodeInfo
	for line := range strings.SplitSeq(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		n := NodeInfo{ID: f[0], Addr: addr, Primary: strings.Contains(f[2], "master"),
			Failed: strings.Contains(f[2], "fail")}
		if f[3] != "-" {
			n.PrimaryID = f[3]
		}
		for _, s := range f[8:] {
			if !strings.HasPrefix(s, "[") { // migrating/importing markers
				n.Slots = append(n.Slots, s)
			}
		}
		nodes = append(nodes, n)
	}
	return nodes
}

// server returns the live Server listening on addr, or nil.
func (c *Cluster) server(addr string) *Server {
	for _, s := range c.Alive() {
		if s.Addr == addr {
			return s
		}
	}
	return nil
}

// Primaries returns the live nodes that are primaries owning slots, as
// the first live node sees it.
func (c *Cluster) Primaries() []*Server {
	c.t.Helper()
	var out []*Server
	for _, n := range c.Topology(c.Alive()[0]) {
		if n.Primary && !n.Failed && len(n.Slots) > 0 {
			if s := c.server(n.Addr); s != nil {
				out = append(out, s)
			}
		}
	}
	return out
}

// ReplicaOf returns a live replica of primary.
func (c *Cluster) ReplicaOf(primary *Server) *Server {
	c.t.Helper()
	id := c.ID(primary)
	for _, n := range c.Topology(primary) {
		if n.PrimaryID == id && !n.Failed {
			if s := c.server(n.Addr); s != nil {
				return s
			}
		}
	}
	c.t.Fatalf("redistest: %s has no live replica", primary.Addr)
	return nil
}

// ID is the node ID of s.
func (c *Cluster) ID(s *Server) string {
	c.t.Helper()
	return s.Do("CLUSTER", "MYID")
}

// Failover runs CLUSTER FAILOVER on replica, the graceful, coordinated
// failover operators use for maintenance, and waits until it is a
// primary and the cluster is healthy again.
func (c *Cluster) Failover(replica *Server) {
	c.t.Helper()
	if got := replica.Do("CLUSTER", "FAILOVER"); got != "+OK" {
		c.t.Fatalf("redistest: cluster failover on %s: %s", replica.Addr, got)
	}
	c.waitFor("failover of "+replica.Addr, func() error {
		for _, n := range c.Topology(replica) {
			if n.Addr == replica.Addr && n.Primary {
				return nil
			}
		}
		return fmt.Errorf("%s is not a primary yet", replica.Addr)
	})
	c.WaitHealthy()
}

// Kill SIGKILLs s, as a crash would; the cluster fails it over to its
// replica after the node timeout. Use WaitHealthy to wait for that.
func (c *Cluster) Kill(s *Server) { s.Kill() }

// Reshard moves n slots from one primary to another with redis-cli
// --cluster reshard, which migrates keys with MIGRATE while clients keep
// running (they see ASK and MOVED), and waits until the cluster agrees.
func (c *Cluster) Reshard(from, to *Server, n int) {
	c.t.Helper()
	c.cli("--cluster", "reshard", from.Addr,
		"--cluster-from", c.ID(from), "--cluster-to", c.ID(to),
		"--cluster-slots", strconv.Itoa(n), "--cluster-yes",
		"--cluster-pipeline", "100")
	c.WaitHealthy()
}

// WaitHealthy waits until every live node reports cluster_state:ok and
// all of them agree on which node owns which slots and how many live
// replicas each primary has.
func (c *Cluster) WaitHealthy() {
	c.t.Helper()
	c.waitFor("cluster healthy", func() error {
		var want string
		for _, s := range c.Alive() {
			info, err := s.tryDo("CLUSTER", "INFO")
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") {
				return fmt.Errorf("%s: cluster_state not ok", s.Addr)
			}
			out, err := s.tryDo("CLUSTER", "NODES")
			if err != nil {
				return err
			}
			var owners []string
			nodes := parseNodes(out)
			for _, n := range nodes {
				if n.Primary && !n.Failed && len(n.Slots) > 0 {
					replicas := 0
					for _, r := range nodes {
						if r.PrimaryID == n.ID && !r.Failed {
							replicas++
						}
					}
					owners = append(owners, fmt.Sprintf("%s=%s+%d", n.Addr, strings.Join(n.Slots, ","), replicas))
				}
			}
			slices.Sort(owners)
			got := strings.Join(owners, " ")
			if want == "" {
				want = got
			} else if got != want {
				return fmt.Errorf("nodes disagree: %q vs %q", want, got)
			}
		}
		return nil
	})
}

func (c *Cluster) waitFor(what string, cond func() error) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("redistest: %s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// words sends one command on a fresh connection and returns every string,
// integer and bulk of the reply, nested arrays flattened in order.
func (s *Server) words(args ...string) ([]string, error) {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return nil, err
	}
	var out []string
	err = readWords(bufio.NewReader(c), &out)
	return out, err
}

func readWords(r *bufio.Reader, out *[]string) error {
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return fmt.Errorf("empty reply line")
	}
	switch line[0] {
	case '-':
		return fmt.Errorf("redis: %s", line[1:])
	case '+', ':':
		*out = append(*out, line[1:])
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			*out = append(*out, "")
			return nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		*out = append(*out, string(buf[:n]))
	case '*':
		n, _ := strconv.Atoi(line[1:])
		for range n {
			if err := readWords(r, out); err != nil {
				return err
			}
		}
	}
	return nil
}
