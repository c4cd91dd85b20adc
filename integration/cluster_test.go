package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/cluster"
	"keyway.dev/dataplane/redistest"
	"keyway.dev/integration/harness"
)

// clusterPolicy serves the cluster through the default listener, which
// also presents the proxy as a cluster. The 4s request deadline covers a
// failover (the test cluster's node timeout is 1s), so writes to a dead
// primary's slots wait for its replica instead of failing.
func clusterPolicy(seeds []string) string {
	quoted := make([]string, len(seeds))
	for i, s := range seeds {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf(`
cache = redis_cluster("cache", seeds = [%s], refresh_interval = "1s", pool = pool(timeout = "4s"))
domain("default", cache)
listener("default", domain = "default", cluster_emulation = True, virtual_nodes = 3)
`, strings.Join(quoted, ", "))
}

// clientDeadline bounds every call of the load: longer than the proxy's
// deadline, so a call that hits it means the proxy hung a request.
const clientDeadline = 6 * time.Second

// TestCluster drives a real 3-primary, 3-replica cluster through two
// keyway-proxy processes while go-redis clients run SET, GET and MGET
// without pause: a coordinated failover, a reshard and a SIGKILLed
// primary, then cluster emulation for cluster-aware clients.
func TestCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 1)
	dir := harness.WritePolicy(t, map[string]string{"policy.star": clusterPolicy(cl.Seeds())})
	path := filepath.Join(dir, "policy.star")
	// p1 serves two more addresses, ports the kernel picks, so its
	// emulated cluster has one virtual node per address.
	proxies := []*harness.Proxy{
		harness.StartProxy(t, "p1", "", "--policy", path, "--cluster-listen", "127.0.0.1:0,127.0.0.1:0"),
		harness.StartProxy(t, "p2", "", "--policy", path),
	}
	vnodes := proxies[0].ClusterAddrs
	if len(vnodes) != 2 {
		t.Fatalf("p1 reported --cluster-listen %v, want two addresses", vnodes)
	}
	var clients []*redis.Client
	for _, p := range proxies {
		harness.Eventually(t, 30*time.Second, "proxy "+p.NodeID+" ready", p.Ready)
		c := redis.NewClient(&redis.Options{Addr: p.Addr, MaxRetries: -1, PoolSize: 4,
			DialTimeout: clientDeadline, ReadTimeout: clientDeadline, WriteTimeout: clientDeadline})
		t.Cleanup(func() { _ = c.Close() })
		clients = append(clients, c)
	}
	l := startLoad(t, clients)

	t.Run("failover", func(t *testing.T) {
		l.phase(t, func() {
			cl.Failover(cl.ReplicaOf(cl.Primaries()[0]))
		}).expectNone(t)
	})
	t.Run("reshard", func(t *testing.T) {
		// The first two primaries trade slots; the third is killed later,
		// so keys that moved are checked strictly at the end.
		p := cl.Primaries()
		l.phase(t, func() { cl.Reshard(p[0], p[1], 300) }).expectNone(t)
	})
	t.Run("emulation", func(t *testing.T) { testEmulation(t, proxies[0], vnodes) })
	t.Run("one virtual node per address", func(t *testing.T) { testEmulationOneAddress(t, proxies[1]) })
	t.Run("pubsub", func(t *testing.T) { testClusterPubSub(t, proxies, vnodes) })
	t.Run("metrics list every node", func(t *testing.T) { testNodeMetrics(t, cl, proxies[0]) })
	var dead map[int]bool
	t.Run("kill primary", func(t *testing.T) {
		victim := cl.Primaries()[2]
		dead = ownedSlots(t, cl, victim)
		l.mu.Lock()
		l.strict = false // reads fall back to a replica, which may lag
		l.mu.Unlock()
		s := l.phase(t, func() {
			cl.Kill(victim)
			cl.WaitHealthy()
		})
		s.expectKill(t, dead)
	})
	l.stop()
	t.Run("no lost writes", func(t *testing.T) { l.verify(t, clients[0], dead) })
}

// ownedSlots returns the slots victim serves.
func ownedSlots(t *testing.T, cl *redistest.Cluster, victim *redistest.Server) map[int]bool {
	out := map[int]bool{}
	for _, n := range cl.Topology(victim) {
		if n.Addr != victim.Addr {
			continue
		}
		for _, r := range n.Slots {
			var lo, hi int
			if _, err := fmt.Sscanf(r, "%d-%d", &lo, &hi); err != nil {
				fmt.Sscanf(r, "%d", &lo)
				hi = lo
			}
			for s := lo; s <= hi; s++ {
				out[s] = true
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s owns no slot", victim.Addr)
	}
	return out
}

// failure is one error a client saw.
type failure struct {
	op   string // SET, GET, MGET
	key  string
	read bool
	err  error
}

// load runs two workers per proxy. Each owns its keys, writes them with
// increasing values and reads them back, so it knows what every read
// must return.
type load struct {
	mu      sync.Mutex
	fails   []failure
	wrong   []string // reads that returned another value than written
	strict  bool     // check values (off while a killed primary's replica may lag)
	written map[string]string
	// uncertain keys' last write failed: it may or may not have run.
	uncertain map[string]bool
	ops       int

	done chan struct{}
	wg   sync.WaitGroup
}

func startLoad(t *testing.T, clients []*redis.Client) *load {
	l := &load{written: map[string]string{}, uncertain: map[string]bool{}, done: make(chan struct{}), strict: true}
	for i, c := range clients {
		for w := range 2 {
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				l.work(fmt.Sprintf("w%d.%d", i, w), c)
			}()
		}
	}
	t.Cleanup(l.stop)
	return l
}

func (l *load) stop() {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	l.wg.Wait()
}

func (l *load) work(name string, c *redis.Client) {
	mine := map[string]string{}
	for n := 0; ; n++ {
		select {
		case <-l.done:
			return
		default:
		}
		key := fmt.Sprintf("%s:%d", name, n%100)
		val := fmt.Sprint(n)
		ctx, cancel := context.WithTimeout(context.Background(), clientDeadline)
		if err := c.Set(ctx, key, val, 0).Err(); err != nil {
			l.fail(failure{op: "SET", key: key, err: err})
			delete(mine, key) // unknown whether it was applied
			l.mu.Lock()
			l.uncertain[key] = true
			l.mu.Unlock()
		} else {
			mine[key] = val
			l.mu.Lock()
			l.written[key] = val
			delete(l.uncertain, key)
			l.mu.Unlock()
		}
		if got, err := c.Get(ctx, key).Result(); err != nil && !errors.Is(err, redis.Nil) {
			l.fail(failure{op: "GET", key: key, read: true, err: err})
		} else if want, ok := mine[key]; ok {
			l.check(key, got, want)
		}
		if n%4 == 3 {
			keys := []string{key, fmt.Sprintf("%s:%d", name, (n+37)%100), fmt.Sprintf("%s:%d", name, (n+71)%100)}
			vals, err := c.MGet(ctx, keys...).Result()
			if err != nil {
				l.fail(failure{op: "MGET", key: keys[0], read: true, err: err})
			} else {
				for i, k := range keys {
					if want, ok := mine[k]; ok {
						got, _ := vals[i].(string)
						l.check(k, got, want)
					}
				}
			}
		}
		cancel()
		l.mu.Lock()
		l.ops++
		l.mu.Unlock()
	}
}

func (l *load) fail(f failure) {
	l.mu.Lock()
	l.fails = append(l.fails, f)
	l.mu.Unlock()
}

func (l *load) check(key, got, want string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.strict && got != want {
		l.wrong = append(l.wrong, fmt.Sprintf("%s = %q, want %q", key, got, want))
	}
}

// summary is what the clients saw during one phase.
type summary struct {
	ops   int
	fails []failure
	wrong []string
}

// phase runs action under load, with some load before and after it, and
// returns what the clients saw meanwhile.
func (l *load) phase(t *testing.T, action func()) summary {
	t.Helper()
	l.mu.Lock()
	startOps, startFails, startWrong := l.ops, len(l.fails), len(l.wrong)
	l.mu.Unlock()
	l.waitOps(t, startOps+50)
	action()
	l.mu.Lock()
	mid := l.ops
	l.mu.Unlock()
	l.waitOps(t, mid+50)
	l.mu.Lock()
	defer l.mu.Unlock()
	s := summary{ops: l.ops - startOps, fails: append([]failure(nil), l.fails[startFails:]...), wrong: append([]string(nil), l.wrong[startWrong:]...)}
	t.Logf("%d operations, %d errors, %d wrong values", s.ops, len(s.fails), len(s.wrong))
	return s
}

// waitOps waits until the workers have done n operations in all.
func (l *load) waitOps(t *testing.T, n int) {
	t.Helper()
	harness.Eventually(t, 30*time.Second, fmt.Sprintf("%d operations", n), func() error {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.ops < n {
			return fmt.Errorf("%d operations so far", l.ops)
		}
		return nil
	})
}

// expectNone fails on any error or wrong value: failover and resharding
// must be invisible.
func (s summary) expectNone(t *testing.T) {
	t.Helper()
	for _, f := range s.fails {
		t.Errorf("%s %s: %v", f.op, f.key, f.err)
	}
	for _, w := range s.wrong {
		t.Errorf("wrong value: %s", w)
	}
}

// expectKill checks a SIGKILLed primary cost at most the writes that were
// sent to it: a write in flight on the connection that broke may or may
// not have run, so the proxy must not resend it and reports an error.
// Writes to its slots that were not yet sent wait (within the deadline)
// for the replica's promotion and succeed; reads are resent to the
// replica and must all succeed, as must every write to another node's
// slots; and no error may be a client-side timeout, which would mean the
// proxy held a request past its deadline.
func (s summary) expectKill(t *testing.T, dead map[int]bool) {
	t.Helper()
	lost := 0
	for _, f := range s.fails {
		var ne net.Error
		switch {
		case errors.As(f.err, &ne) && ne.Timeout():
			t.Errorf("%s %s hung past the client's deadline: %v", f.op, f.key, f.err)
		case f.read:
			t.Errorf("read %s %s failed: %v", f.op, f.key, f.err)
		case !dead[cluster.Slot([]byte(f.key))]:
			t.Errorf("write %s to a live node's slot %d failed: %v", f.key, cluster.Slot([]byte(f.key)), f.err)
		case !strings.Contains(f.err.Error(), "was lost"):
			// Only a write on the connection that broke can have reached
			// the dead node; the rest must wait for the replica.
			t.Errorf("write %s that never reached the killed node failed: %v", f.key, f.err)
		default:
			lost++
			t.Logf("write %s to the killed node: %v", f.key, f.err)
		}
	}
	t.Logf("%d writes in flight to the killed primary were reported as errors", lost)
}

// verify reads back every key with its last acknowledged value once the
// load has stopped. Keys whose last write failed may hold either value.
// Writes a primary acknowledged just before it was SIGKILLed may be lost
// by Redis itself (replication is asynchronous), so on the killed node's
// slots a missing value is reported, not failed; everywhere else, the
// keys that lived through the failover and the reshard, none may be lost.
func (l *load) verify(t *testing.T, c *redis.Client, dead map[int]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	checked := 0
	for k, want := range l.written {
		if l.uncertain[k] {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), clientDeadline)
		got, err := c.Get(ctx, k).Result()
		cancel()
		switch {
		case err != nil && !errors.Is(err, redis.Nil):
			t.Errorf("GET %s: %v", k, err)
		case got == want:
			checked++
		case dead[cluster.Slot([]byte(k))]:
			t.Logf("%s = %q, last written %q: lost with the killed primary", k, got, want)
		default:
			t.Errorf("%s = %q, last written %q", k, got, want)
		}
	}
	if checked == 0 {
		t.Fatal("no key was checked")
	}
	t.Logf("%d keys read back", checked)
}

// testEmulation checks cluster-aware clients work through the proxy
// unchanged, go-redis ClusterClient and redis-cli -c, and that the
// ClusterClient, given one virtual node per address of the proxy's
// listener, connects to every one of them.
func testEmulation(t *testing.T, p *harness.Proxy, extra []string) {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{p.Addr}, MaxRedirects: 0,
		ReadTimeout: clientDeadline, WriteTimeout: clientDeadline})
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil || len(slots) != 3 || slots[0].Start != 0 || slots[2].End != cluster.Slots-1 {
		t.Fatalf("CLUSTER SLOTS = %+v, %v", slots, err)
	}
	want := append([]string{p.Addr}, extra...)
	var got []string
	for _, s := range slots {
		if len(s.Nodes) != 1 {
			t.Fatalf("virtual node %+v has replicas", s)
		}
		got = append(got, s.Nodes[0].Addr)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("virtual nodes at %v, want one per address of the proxy %v", got, want)
	}
	for i := range 50 {
		k := fmt.Sprintf("emu:%d", i)
		if err := cc.Set(ctx, k, i, 0).Err(); err != nil {
			t.Fatalf("ClusterClient SET %s: %v", k, err)
		}
	}
	for i := range 50 {
		k := fmt.Sprintf("emu:%d", i)
		if got, err := cc.Get(ctx, k).Int(); err != nil || got != i {
			t.Fatalf("ClusterClient GET %s = %d, %v", k, got, err)
		}
	}
	pipe := cc.Pipeline()
	gets := make([]*redis.StringCmd, 20)
	for i := range gets {
		gets[i] = pipe.Get(ctx, fmt.Sprintf("emu:%d", i))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("ClusterClient pipeline: %v", err)
	}
	for i, g := range gets {
		if g.Val() != fmt.Sprint(i) {
			t.Fatalf("pipelined GET emu:%d = %q", i, g.Val())
		}
	}
	if got, err := cc.MGet(ctx, "{emu}a", "{emu}b").Result(); err != nil || len(got) != 2 {
		t.Fatalf("ClusterClient MGET = %v, %v", got, err)
	}
	// The proxy's CLIENT LIST shows where each connection came in.
	plain := redis.NewClient(&redis.Options{Addr: p.Addr})
	defer plain.Close()
	list, err := plain.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range want {
		if n := strings.Count(list, "laddr="+a+" "); n == 0 || (a == p.Addr && n < 2) {
			t.Fatalf("%d connections on virtual node %s:\n%s", n, a, list)
		}
	}

	_, port, _ := net.SplitHostPort(p.Addr)
	_, vport, _ := net.SplitHostPort(extra[0])
	for _, tc := range []struct {
		port string
		args []string
		want string
	}{
		{port, []string{"SET", "cli:key", "hello"}, "OK"},
		{port, []string{"GET", "cli:key"}, "hello"},
		{vport, []string{"GET", "cli:key"}, "hello"},
		{port, []string{"CLUSTER", "KEYSLOT", "cli:key"}, fmt.Sprint(cluster.Slot([]byte("cli:key")))},
		{port, []string{"CLUSTER", "INFO"}, "cluster_state:ok"},
		{port, []string{"MGET", "cli:key", "emu:1", "emu:2"}, "hello\n1\n2"},
		{vport, []string{"CLUSTER", "NODES"}, extra[0] + "@" + vport + " myself,master"},
	} {
		t.Run(tc.port+" "+strings.Join(tc.args, " "), func(t *testing.T) {
			out, err := exec.CommandContext(ctx, "redis-cli", append([]string{"-c", "-p", tc.port}, tc.args...)...).CombinedOutput()
			if err != nil || !strings.Contains(string(out), tc.want) {
				t.Fatalf("redis-cli -c %v = %q, %v; want %q", tc.args, out, err, tc.want)
			}
			if strings.Contains(string(out), "MOVED") || strings.Contains(string(out), "ASK") {
				t.Fatalf("redis-cli saw a redirect: %q", out)
			}
		})
	}
}

// testEmulationOneAddress checks a proxy whose listener has one address
// still presents the policy's virtual_nodes, all at that address.
func testEmulationOneAddress(t *testing.T, p *harness.Proxy) {
	c := redis.NewClient(&redis.Options{Addr: p.Addr})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	slots, err := c.ClusterSlots(ctx).Result()
	if err != nil || len(slots) != 3 {
		t.Fatalf("CLUSTER SLOTS = %+v, %v", slots, err)
	}
	for _, s := range slots {
		if s.Nodes[0].Addr != p.Addr {
			t.Fatalf("virtual node %+v is not at %s", s, p.Addr)
		}
	}
}

// testClusterPubSub subscribes through one proxy and publishes through
// the other: SUBSCRIBE hears PUBLISH whichever primary each proxy picked,
// and a ClusterClient's SSUBSCRIBE, through emulation, hears SPUBLISH on
// the shard channel's node.
func testClusterPubSub(t *testing.T, proxies []*harness.Proxy, vnodes []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub := redis.NewClient(&redis.Options{Addr: proxies[1].Addr})
	defer pub.Close()
	var subs []*redis.PubSub
	for _, addr := range append([]string{proxies[0].Addr}, vnodes...) {
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		ps := c.Subscribe(ctx, "cluster-news")
		defer ps.Close()
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatalf("SUBSCRIBE via %s: %v", addr, err)
		}
		subs = append(subs, ps)
	}
	if err := pub.Publish(ctx, "cluster-news", "hello").Err(); err != nil {
		t.Fatalf("PUBLISH: %v", err)
	}
	for i, ps := range subs {
		m, err := ps.ReceiveMessage(ctx)
		if err != nil || m.Channel != "cluster-news" || m.Payload != "hello" {
			t.Fatalf("subscriber %d received %+v, %v", i, m, err)
		}
	}

	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{proxies[0].Addr}, MaxRedirects: 0})
	defer cc.Close()
	for _, ch := range []string{"shard-a", "shard-b", "shard-c"} {
		ps := cc.SSubscribe(ctx, ch)
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatalf("SSUBSCRIBE %s: %v", ch, err)
		}
		// SPUBLISH counts subscribers on the slot's node: 1 only if the
		// subscription was pinned there.
		if n, err := pub.SPublish(ctx, ch, "to "+ch).Result(); err != nil || n != 1 {
			t.Fatalf("SPUBLISH %s = %d, %v; want 1 receiver", ch, n, err)
		}
		m, err := ps.ReceiveMessage(ctx)
		if err != nil || m.Channel != ch || m.Payload != "to "+ch {
			t.Fatalf("SSUBSCRIBE %s received %+v, %v", ch, m, err)
		}
		ps.Close()
	}
}

// testNodeMetrics checks the proxy's /metrics describes every node of
// the cluster, replicas included, under the upstream's name.
func testNodeMetrics(t *testing.T, cl *redistest.Cluster, p *harness.Proxy) {
	harness.Eventually(t, 10*time.Second, "every cluster node in /metrics", func() error {
		resp, err := http.Get("http://" + p.Admin + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		// Label order is the exposition's business (client_golang sorts
		// them), so a series is found by its labels, not by its text.
		for _, n := range cl.Alive() {
			var val string
			for _, line := range strings.Split(string(body), "\n") {
				name, rest, ok := strings.Cut(line, "{")
				if !ok || name != "keyway_upstream_connections" {
					continue
				}
				labels, v, _ := strings.Cut(rest, "} ")
				if strings.Contains(","+labels+",", fmt.Sprintf(",upstream=%q,", "cache")) && strings.Contains(","+labels+",", fmt.Sprintf(",node=%q,", n.Addr)) {
					val = v
				}
			}
			if val == "" {
				return fmt.Errorf("no keyway_upstream_connections for upstream cache, node %s", n.Addr)
			}
			if val == "0" {
				return fmt.Errorf("keyway_upstream_connections for node %s is 0", n.Addr)
			}
		}
		return nil
	})
}
