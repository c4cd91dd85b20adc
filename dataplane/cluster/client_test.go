package cluster

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// TestCluster runs against one real 3-primary, 3-replica cluster. The
// subtests share it and run in order; those that change its shape come
// last.
func TestCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 1)
	c := newClient(t, clusterUpstream(cl, nil))
	v := c.Named("cache")
	if got := do(v, "FLUSHALL"); !strings.Contains(got, "allow_keyspace_commands") {
		t.Fatalf("FLUSHALL without allow_keyspace_commands: %q", got)
	}

	t.Run("map", func(t *testing.T) { testMap(t, cl, c) })
	t.Run("stats", func(t *testing.T) { testStats(t, cl, c) })
	t.Run("commands", func(t *testing.T) { testCommands(t, v) })
	t.Run("pipeline", func(t *testing.T) { testPipeline(t, v) })
	t.Run("keyspace", func(t *testing.T) {
		all := newClient(t, clusterUpstream(cl, func(cfg *keywayv1.Cluster) { cfg.AllowKeyspaceCommands = true })).Named("all")
		testKeyspace(t, all)
	})
	t.Run("wide", func(t *testing.T) {
		wc := newClient(t, clusterUpstream(cl, func(cfg *keywayv1.Cluster) { cfg.AllowKeyspaceCommands = true }))
		testWide(t, cl, wc, wc.Named("wide"))
	})
	t.Run("replicas", func(t *testing.T) {
		rc := newClient(t, clusterUpstream(cl, func(cfg *keywayv1.Cluster) { cfg.ReadFromReplicas = true }))
		testReplicaReads(t, cl, rc)
	})
	t.Run("ask", func(t *testing.T) { testAskAndMoved(t, cl, c) })
	t.Run("failover", func(t *testing.T) { testFailover(t, cl, c) })
}

// testMap checks the discovered map against what every node says.
func testMap(t *testing.T, cl *redistest.Cluster, c *Client) {
	m := c.Map()
	if m == nil || len(m.Shards) != 3 {
		t.Fatalf("map: %+v", m)
	}
	node := cl.Nodes[0]
	shards, err := ParseShards(rawDo(t, node.Addr, "CLUSTER", "SHARDS"), node.Addr, false)
	if err != nil {
		t.Fatal(err)
	}
	slots, err := ParseSlots(rawDo(t, node.Addr, "CLUSTER", "SLOTS"), node.Addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		m    *Map
	}{{"shards", shards}, {"slots", slots}, {"client", m}} {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range cl.Topology(node) {
				if !n.Primary {
					continue
				}
				for _, r := range n.Slots {
					lo, hi, _ := strings.Cut(r, "-")
					slot, _ := strconv.Atoi(lo)
					last := slot
					if hi != "" {
						last, _ = strconv.Atoi(hi)
					}
					for _, s := range []int{slot, last} {
						i := tc.m.Owner(s)
						if i < 0 || tc.m.Shards[i].Primary != n.Addr {
							t.Fatalf("slot %d: owner %d in %+v, want %s", s, i, tc.m.Shards, n.Addr)
						}
						if len(tc.m.Shards[i].Replicas) != 1 {
							t.Fatalf("slot %d: replicas %v, want one", s, tc.m.Shards[i].Replicas)
						}
					}
				}
			}
		})
	}
}

func testCommands(t *testing.T, v engine.Engine) {
	for _, tc := range []struct {
		name string
		cmd  []string
		want string
	}{
		{"set", []string{"SET", "a", "1"}, "+OK\r\n"},
		{"mset across slots", []string{"MSET", "b", "2", "c", "3", "{a}x", "4"}, "+OK\r\n"},
		{"get", []string{"GET", "b"}, "$1\r\n2\r\n"},
		{"mget across slots in order", []string{"MGET", "c", "missing", "a", "b", "{a}x"}, bulks("3", "(nil)", "1", "2", "4")},
		{"exists sums", []string{"EXISTS", "a", "b", "missing", "c"}, ":3\r\n"},
		{"touch sums", []string{"TOUCH", "a", "b"}, ":2\r\n"},
		{"msetnx across slots", []string{"MSETNX", "x1", "1", "x2", "2"}, "-CROSSSLOT Keys in request don't hash to the same slot (keyway: MSETNX cannot be split"},
		{"msetnx one slot", []string{"MSETNX", "{t}1", "1", "{t}2", "2"}, ":1\r\n"},
		{"sunion across slots", []string{"SUNION", "s1", "s2"}, "-CROSSSLOT"},
		{"eval across slots", []string{"EVAL", "return 1", "2", "a", "b"}, "-CROSSSLOT Keys in request don't hash to the same slot (keyway: EVAL runs on one cluster node"},
		{"eval one slot", []string{"EVAL", "return redis.call('GET', KEYS[1])", "2", "{a}x", "a"}, "$1\r\n4\r\n"},
		{"mset odd", []string{"MSET", "a", "1", "b"}, "-ERR wrong number of arguments for 'mset' command"},
		{"del sums", []string{"DEL", "a", "b", "c", "missing", "{a}x", "{t}1", "{t}2"}, ":6\r\n"},
		{"keyless", []string{"PUBLISH", "ch", "hi"}, ":0\r\n"},
		{"keys refused", []string{"KEYS", "*"}, "-ERR keyway: KEYS would run on every node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := do(v, tc.cmd...); !strings.HasPrefix(got, tc.want) {
				t.Fatalf("%v = %q, want %q", tc.cmd, got, tc.want)
			}
		})
	}
}

// testPipeline sends one pipeline whose commands hit every node and
// checks the replies come back in the client's order.
func testPipeline(t *testing.T, v engine.Engine) {
	var cmds [][]string
	var want []string
	for i := range 40 {
		k := fmt.Sprintf("p%d", i)
		cmds = append(cmds, []string{"SET", k, strconv.Itoa(i)}, []string{"GET", k})
		want = append(want, "+OK\r\n", fmt.Sprintf("$%d\r\n%d\r\n", len(strconv.Itoa(i)), i))
	}
	cmds = append(cmds, []string{"MGET", "p0", "p1", "p2", "p3"}, []string{"DEL", "p0", "p1", "p2", "p3"})
	want = append(want, bulks("0", "1", "2", "3"), ":4\r\n")
	got := pipeline(v, cmds...)
	if !slices.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("reply %d to %v = %q, want %q", i, cmds[i], got[i], want[i])
			}
		}
	}
}

func testKeyspace(t *testing.T, v engine.Engine) {
	if got := do(v, "FLUSHALL"); got != "+OK\r\n" {
		t.Fatalf("FLUSHALL = %q", got)
	}
	var want []string
	for i := range 100 {
		k := fmt.Sprintf("ks:%d", i)
		want = append(want, k)
		do(v, "SET", k, "v")
	}
	slices.Sort(want)
	if got := do(v, "DBSIZE"); got != ":100\r\n" {
		t.Fatalf("DBSIZE = %q", got)
	}
	t.Run("scan", func(t *testing.T) {
		var seen []string
		cursor := "0"
		for round := 0; ; round++ {
			if round > 1000 {
				t.Fatal("SCAN does not end")
			}
			r := req("SCAN", cursor, "COUNT", "7")
			engine.Do(context.Background(), v, r)
			val, err := resp.ParseValue(r.Raw())
			if err != nil || len(val.Elems) != 2 {
				t.Fatalf("SCAN reply %q: %v", r.Raw(), err)
			}
			for _, k := range val.Elems[1].Elems {
				seen = append(seen, string(k.Str))
			}
			cursor = string(val.Elems[0].Str)
			if cursor == "0" {
				break
			}
		}
		slices.Sort(seen)
		seen = slices.Compact(seen)
		if !slices.Equal(seen, want) {
			t.Fatalf("SCAN saw %d keys, want %d", len(seen), len(want))
		}
		if got := do(v, "SCAN", "nope"); !strings.HasPrefix(got, "-ERR invalid cursor") {
			t.Fatalf("SCAN nope = %q", got)
		}
	})
	t.Run("keys", func(t *testing.T) {
		val, err := resp.ParseValue([]byte(do(v, "KEYS", "ks:*")))
		if err != nil || len(val.Elems) != 100 {
			t.Fatalf("KEYS: %d keys, %v", len(val.Elems), err)
		}
	})
	t.Run("script load", func(t *testing.T) {
		sha := do(v, "SCRIPT", "LOAD", "return KEYS[1]")
		if !strings.HasPrefix(sha, "$40\r\n") {
			t.Fatalf("SCRIPT LOAD = %q", sha)
		}
		sha = sha[5:45]
		for _, k := range []string{"a", "b", "c", "d"} { // every node has it
			if got := do(v, "EVALSHA", sha, "1", k); got != "$1\r\n"+k+"\r\n" {
				t.Fatalf("EVALSHA %s = %q", k, got)
			}
		}
	})
	if got := do(v, "FLUSHDB"); got != "+OK\r\n" {
		t.Fatalf("FLUSHDB = %q", got)
	}
	if got := do(v, "DBSIZE"); got != ":0\r\n" {
		t.Fatalf("DBSIZE after FLUSHDB = %q", got)
	}
}

// testReplicaReads checks reads reach replicas when the policy allows
// it, on connections made READONLY once when they opened rather than
// before every batch.
func testReplicaReads(t *testing.T, cl *redistest.Cluster, c *Client) {
	v := c.Named("replicas")
	if got := do(v, "SET", "r", "1"); got != "+OK\r\n" {
		t.Fatalf("SET = %q", got)
	}
	m := c.Map()
	shard := m.Shards[m.Owner(Slot([]byte("r")))]
	var replica *redistest.Server
	for _, s := range cl.Nodes {
		if s.Addr == shard.Replicas[0] {
			replica = s
		}
	}
	harnessEventually(t, "replica has r", func() error {
		if got := do(v, "GET", "r"); got != "$1\r\n1\r\n" {
			return fmt.Errorf("GET = %q", got)
		}
		return nil
	})
	// A pool may still open a connection during the reads (its second
	// shared connection, or a reconnect on a loaded machine); such a
	// connection says READONLY once. So READONLY may be seen at most
	// once per connection newer than those open now, never per batch.
	before := maxClientID(replica)
	replica.Do("CONFIG", "RESETSTAT")
	const reads = 20
	for range reads {
		if got := do(v, "GET", "r"); got != "$1\r\n1\r\n" {
			t.Fatalf("GET = %q", got)
		}
	}
	stats := replica.Do("INFO", "commandstats")
	if got := statField(stats, "cmdstat_get", "calls"); got < reads {
		t.Fatalf("replica %s ran %d GETs, want %d:\n%s", replica.Addr, got, reads, stats)
	}
	readonly, opened := readonlyConns(replica, before)
	if got := statField(stats, "cmdstat_readonly", "calls"); got > opened {
		t.Fatalf("replica %s got READONLY %d times during %d reads, with %d connections opened meanwhile", replica.Addr, got, reads, opened)
	}
	if readonly == 0 {
		t.Fatalf("no connection to replica %s is READONLY", replica.Addr)
	}
}

// clientList is s's CLIENT LIST as (id, READONLY) pairs.
func clientList(s *redistest.Server) (ids []int, readonly []bool) {
	for _, line := range strings.Split(s.Do("CLIENT", "LIST"), "\n") {
		id, ro := 0, false
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "id="); ok {
				id, _ = strconv.Atoi(v)
			}
			if flags, ok := strings.CutPrefix(f, "flags="); ok && strings.Contains(flags, "r") {
				ro = true
			}
		}
		ids, readonly = append(ids, id), append(readonly, ro)
	}
	return ids, readonly
}

// maxClientID is the newest client id s knows.
func maxClientID(s *redistest.Server) int {
	ids, _ := clientList(s)
	return slices.Max(append(ids, 0))
}

// readonlyConns counts the READONLY connections to s, and those of them
// opened after the client id after.
func readonlyConns(s *redistest.Server, after int) (readonly, opened int) {
	ids, ro := clientList(s)
	for i, id := range ids {
		if ro[i] {
			readonly++
			if id > after {
				opened++
			}
		}
	}
	return readonly, opened
}

// statField reads one numeric field of an INFO commandstats line, 0 when
// the command was never called.
func statField(info, cmd, field string) int {
	for _, line := range strings.Split(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), cmd+":")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if k, v, _ := strings.Cut(kv, "="); k == field {
				n, _ := strconv.Atoi(v)
				return n
			}
		}
	}
	return 0
}

// testStats checks every node of the cluster, replicas included, is
// described once with its connections.
func testStats(t *testing.T, cl *redistest.Cluster, c *Client) {
	harnessEventually(t, "every node connected", func() error {
		stats := c.Stats()
		if len(stats) != len(cl.Nodes) {
			return fmt.Errorf("%d nodes described, want %d: %+v", len(stats), len(cl.Nodes), stats)
		}
		for i, want := range cl.Nodes {
			j := slices.IndexFunc(stats, func(s upstream.NodeStats) bool { return s.Addr == want.Addr })
			if j < 0 {
				return fmt.Errorf("node %d (%s) missing from %+v", i, want.Addr, stats)
			}
			if s := stats[j]; s.Connections == 0 || s.Breaker != upstream.BreakerClosed {
				return fmt.Errorf("node %s: %+v", s.Addr, s)
			}
		}
		return nil
	})
}

// testAskAndMoved migrates one slot by hand, checking the client follows
// ASK while keys are split between the nodes and MOVED once the slot has
// moved, updating its map.
func testAskAndMoved(t *testing.T, cl *redistest.Cluster, c *Client) {
	v := c.Named("cache")
	const k1, k2 = "{mig}1", "{mig}2"
	slot := Slot([]byte(k1))
	do(v, "SET", k1, "one")
	do(v, "SET", k2, "two")
	m := c.Map()
	from := cl.Nodes[0]
	var to *redistest.Server
	for _, s := range cl.Primaries() {
		if s.Addr == m.Shards[m.Owner(slot)].Primary {
			from = s
		} else {
			to = s
		}
	}
	fromID, toID := cl.ID(from), cl.ID(to)
	to.Do("CLUSTER", "SETSLOT", strconv.Itoa(slot), "IMPORTING", fromID)
	from.Do("CLUSTER", "SETSLOT", strconv.Itoa(slot), "MIGRATING", toID)
	host, port, _ := strings.Cut(to.Addr, ":")
	if got := from.Do("MIGRATE", host, port, k1, "0", "5000"); got != "+OK" {
		t.Fatalf("MIGRATE = %q", got)
	}
	// k1 now lives on to (ASK), k2 still on from.
	if got := pipeline(v, []string{"GET", k1}, []string{"GET", k2}); !slices.Equal(got, []string{"$3\r\none\r\n", "$3\r\ntwo\r\n"}) {
		t.Fatalf("during migration: %q", got)
	}
	if got := from.Do("MIGRATE", host, port, k2, "0", "5000"); got != "+OK" {
		t.Fatalf("MIGRATE = %q", got)
	}
	for _, s := range cl.Alive() {
		s.Do("CLUSTER", "SETSLOT", strconv.Itoa(slot), "NODE", toID)
	}
	if got := do(v, "MGET", k1, k2); got != bulks("one", "two") {
		t.Fatalf("after migration: %q", got)
	}
	if m := c.Map(); m.Shards[m.Owner(slot)].Primary != to.Addr {
		t.Fatalf("slot %d owner %s, want %s after MOVED", slot, m.Shards[m.Owner(slot)].Primary, to.Addr)
	}
}

// testFailover fails a primary over to its replica with CLUSTER FAILOVER
// while reads and writes run, and expects no error: the client follows
// MOVED and retries the failover window.
func testFailover(t *testing.T, cl *redistest.Cluster, c *Client) {
	v := c.Named("cache")
	primary := cl.Primaries()[0]
	replica := cl.ReplicaOf(primary)
	stop := make(chan struct{})
	errs := make(chan string, 100)
	done := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				done <- n
				return
			default:
			}
			k := fmt.Sprintf("f%d", n%50)
			for _, got := range pipeline(v, []string{"SET", k, "x"}, []string{"GET", k}) {
				if strings.HasPrefix(got, "-") {
					select {
					case errs <- got:
					default:
					}
				}
			}
			n++
		}
	}()
	time.Sleep(100 * time.Millisecond)
	cl.Failover(replica)
	time.Sleep(200 * time.Millisecond)
	close(stop)
	n := <-done
	close(errs)
	var got []string
	for e := range errs {
		got = append(got, e)
	}
	if len(got) > 0 {
		t.Fatalf("%d errors in %d rounds during failover, first: %q", len(got), n, got[0])
	}
	if n == 0 {
		t.Fatal("no requests ran")
	}
}

func harnessEventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
