package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// redisCluster is the Redis Cluster the cluster workloads (C1-C3) end
// at: primaries only, so every request is served where the slot lives
// and replicas do not take CPU from the pinned server core.
type redisCluster struct {
	nodes []*proc
}

// clusterNodeTimeout is long enough that a busy, pinned core does not
// make nodes suspect each other during a run.
const clusterNodeTimeout = 15 * time.Second

// seeds are the nodes' client addresses.
func (c *redisCluster) seeds() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.addr
	}
	return out
}

// pids are the nodes' pids, whose CPU counts as redis's.
func (c *redisCluster) pids() []int {
	out := make([]int, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.pid()
	}
	return out
}

// startCluster starts n redis-servers in cluster mode, joins them with
// redis-cli --cluster create (slots split evenly, no replicas) and waits
// until every node reports cluster_state:ok and knows all n nodes.
func startCluster(ctx context.Context, ps *procs, bin, cpus string, n int) (*redisCluster, error) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, fmt.Errorf("redis-cli not installed (scripts/deps.sh --bench): %w", err)
	}
	c := &redisCluster{}
	for i := range n {
		p, err := startClusterNode(ctx, ps, bin, cpus, i)
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, p)
	}
	args := append([]string{"--cluster", "create"}, c.seeds()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(cctx, cli, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %w\n%s", err, out)
	}
	if err := c.waitHealthy(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// startClusterNode starts node i with its own config, nodes file and
// cluster bus port (the default, port+10000, may be taken).
func startClusterNode(ctx context.Context, ps *procs, bin, cpus string, i int) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	bus, err := freePort()
	if err != nil {
		return nil, err
	}
	name := "redis-cluster-" + strconv.Itoa(i)
	conf := strings.Join([]string{
		"bind 127.0.0.1",
		"port " + strconv.Itoa(port),
		"protected-mode no",
		`save ""`,
		"appendonly no",
		"daemonize no",
		"dir " + ps.dir,
		"logfile " + filepath.Join(ps.dir, name+"-server.log"),
		"maxclients 20000",
		"tcp-backlog 4096",
		"cluster-enabled yes",
		"cluster-config-file " + name + "-nodes.conf",
		"cluster-port " + strconv.Itoa(bus),
		"cluster-node-timeout " + strconv.FormatInt(clusterNodeTimeout.Milliseconds(), 10),
	}, "\n") + "\n"
	path := filepath.Join(ps.dir, name+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	p, err := ps.start(name, cpus, bin, path)
	if err != nil {
		return nil, err
	}
	p.addr = "127.0.0.1:" + strconv.Itoa(port)
	return p, waitPing(ctx, p)
}

// waitHealthy polls every node, for at most a minute, until each says
// cluster_state:ok and lists every node as connected: until then a
// client may be sent MOVED or CLUSTERDOWN.
func (c *redisCluster) waitHealthy(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	var last error
	for time.Now().Before(deadline) {
		if last = c.healthy(); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("cluster not healthy within a minute: %w", last)
}

func (c *redisCluster) healthy() error {
	for _, n := range c.nodes {
		if n.exited() {
			return fmt.Errorf("%s exited; see %s", n.name, n.log)
		}
		info, err := command(n.addr, "CLUSTER", "INFO")
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("%s: cluster_state not ok", n.addr)
		}
		nodes, err := command(n.addr, "CLUSTER", "NODES")
		if err != nil {
			return err
		}
		if got := strings.Count(nodes, " connected"); got != len(c.nodes) {
			return fmt.Errorf("%s sees %d of %d nodes connected", n.addr, got, len(c.nodes))
		}
	}
	return nil
}

// clusterPolicy is the policy keyway-proxy renders locally for the
// cluster workloads: one redis_cluster upstream as the default domain.
func clusterPolicy(seeds []string) string {
	quoted := make([]string, len(seeds))
	for i, s := range seeds {
		quoted[i] = strconv.Quote(s)
	}
	return fmt.Sprintf("c = redis_cluster(\"c\", seeds = [%s])\ndomain(\"default\", c)\n", strings.Join(quoted, ", "))
}

// startKeywayCluster starts keyway-proxy with --policy FILE in front of
// the cluster.
func startKeywayCluster(ctx context.Context, ps *procs, bin, cpus string, seeds []string, port, admin int, extra []string) (*proc, error) {
	path := filepath.Join(ps.dir, "cluster-policy.star")
	if err := os.WriteFile(path, []byte(clusterPolicy(seeds)), 0o644); err != nil {
		return nil, fmt.Errorf("write cluster policy: %w", err)
	}
	args := []string{bin, "--listen", "127.0.0.1:" + strconv.Itoa(port), "--policy", path,
		"--admin", "127.0.0.1:" + strconv.Itoa(admin), "--log-level", "warn"}
	p, err := ps.start("keyway-proxy-cluster", cpus, append(args, extra...)...)
	if err != nil {
		return nil, err
	}
	p.addr = "127.0.0.1:" + strconv.Itoa(port)
	return p, waitPing(ctx, p)
}
