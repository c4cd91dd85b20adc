package frontend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/cluster"
	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/clusteremu"
	"keyway.dev/dataplane/frontend/wire"
	"keyway.dev/dataplane/redistest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// startListeners serves one Server on n loopback listeners that all carry
// the listener name "main", as keyway-proxy --cluster-listen does, and
// returns their addresses.
func startListeners(t *testing.T, n int) (*harness, []string) {
	t.Helper()
	h := &harness{cur: &engine.Current{}, done: make(chan error, n)}
	h.srv = New(Config{NodeID: "test", Current: h.cur, Limits: DefaultLimits()})
	var addrs []string
	var added []*wire.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		l, err := h.srv.Add(ln, "main")
		if err != nil {
			t.Fatal(err)
		}
		added = append(added, l)
	}
	for _, l := range added {
		go func() { h.done <- h.srv.ServeListener(l) }()
	}
	h.addr = addrs[0]
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.srv.Shutdown(ctx)
		for range n {
			if err := <-h.done; !errors.Is(err, ErrServerClosed) {
				t.Errorf("serve returned %v", err)
			}
		}
	})
	return h, addrs
}

// emulating is a proxy config whose listener "main" presents a cluster
// of virtualNodes nodes.
func emulating(virtualNodes uint32) *keywayv1.ProxyConfig {
	return &keywayv1.ProxyConfig{
		Name:     "proxy",
		Identity: &keywayv1.Identity{DefaultDomain: "default"},
		Listeners: []*keywayv1.Listener{{Name: "main", Domain: "default",
			ClusterEmulation: &keywayv1.ClusterEmulation{Enabled: true, VirtualNodes: virtualNodes}}},
	}
}

// TestClusterVirtualNodes checks a listener with several addresses is
// described as one virtual node per address, the slots split evenly and
// the same description on every address, and that go-redis's
// ClusterClient then spreads its connections over all of them.
func TestClusterVirtualNodes(t *testing.T) {
	r := redistest.Start(t)
	h, addrs := startListeners(t, 3)
	// The policy asks for 5 virtual nodes; with several addresses the
	// addresses decide.
	install(h.cur, "v1", map[string]engine.Engine{"default": newLeaf(t, "main", r.Addr)}, emulating(5))
	sorted := slices.Clone(addrs)
	slices.SortFunc(sorted, func(a, b string) int { return portOf(t, a) - portOf(t, b) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	ids := map[string]string{}
	for _, addr := range addrs {
		t.Run("slots via "+addr, func(t *testing.T) {
			c := redis.NewClient(&redis.Options{Addr: addr})
			defer c.Close()
			slots, err := c.ClusterSlots(ctx).Result()
			if err != nil || len(slots) != 3 {
				t.Fatalf("CLUSTER SLOTS = %+v, %v", slots, err)
			}
			for i, s := range slots {
				from, to := i*cluster.Slots/3, (i+1)*cluster.Slots/3-1
				if s.Start != from || s.End != to || len(s.Nodes) != 1 || s.Nodes[0].Addr != sorted[i] {
					t.Fatalf("range %d = %+v, want %d-%d at %s", i, s, from, to, sorted[i])
				}
				if id, ok := ids[sorted[i]]; ok && id != s.Nodes[0].ID {
					t.Fatalf("%s has id %s here and %s elsewhere", sorted[i], s.Nodes[0].ID, id)
				}
				ids[sorted[i]] = s.Nodes[0].ID
			}
			shards, err := c.ClusterShards(ctx).Result()
			if err != nil || len(shards) != 3 || shards[1].Nodes[0].Port != int64(portOf(t, sorted[1])) {
				t.Fatalf("CLUSTER SHARDS = %+v, %v", shards, err)
			}
			myID, err := c.ClusterMyID(ctx).Result()
			if err != nil || myID != ids[addr] {
				t.Fatalf("CLUSTER MYID = %q, %v; want %s, the node at %s", myID, err, ids[addr], addr)
			}
			nodes, err := c.ClusterNodes(ctx).Result()
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(strings.TrimSpace(nodes), "\n") {
				f := strings.Fields(line)
				if mine := strings.HasPrefix(f[2], "myself"); mine != (f[0] == ids[addr]) || !strings.HasPrefix(f[1], ids2addr(ids, f[0])+"@") {
					t.Fatalf("CLUSTER NODES line %q via %s", line, addr)
				}
			}
		})
	}
	if len(ids) != 3 {
		t.Fatalf("ids %v, want one per address", ids)
	}

	t.Run("go-redis ClusterClient", func(t *testing.T) {
		cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addrs[0]}, MaxRedirects: 0})
		defer cc.Close()
		for i := range 60 {
			k := fmt.Sprintf("vn:%d", i)
			if err := cc.Set(ctx, k, i, 0).Err(); err != nil {
				t.Fatalf("SET %s: %v", k, err)
			}
			if got, err := cc.Get(ctx, k).Int(); err != nil || got != i {
				t.Fatalf("GET %s = %d, %v", k, got, err)
			}
		}
		if got, err := cc.MGet(ctx, "{vn}a", "{vn}b").Result(); err != nil || len(got) != 2 {
			t.Fatalf("MGET = %v, %v", got, err)
		}
		perAddr := map[string]int{}
		h.srv.each(func(c *client) { perAddr[c.rc.NetConn().LocalAddr().String()]++ })
		for _, a := range addrs {
			if perAddr[a] == 0 {
				t.Fatalf("no client connection on virtual node %s: %v", a, perAddr)
			}
		}
	})
}

// TestClusterNodesAnnouncedBeforeServing: a listener counts as a
// virtual node from Add on, so a client of the first listener a program
// serves sees every node, not the ones whose goroutines happened to run.
func TestClusterNodesAnnouncedBeforeServing(t *testing.T) {
	r := redistest.Start(t)
	h := &harness{cur: &engine.Current{}}
	h.srv = New(Config{NodeID: "test", Current: h.cur, Limits: DefaultLimits()})
	install(h.cur, "v1", map[string]engine.Engine{"default": newLeaf(t, "main", r.Addr)}, emulating(1))
	var added []*wire.Listener
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := h.srv.Add(ln, "main")
		if err != nil {
			t.Fatal(err)
		}
		added = append(added, l)
	}
	done := make(chan error, 1)
	go func() { done <- h.srv.ServeListener(added[0]) }() // the second is never served
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.srv.Shutdown(ctx)
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("serve returned %v", err)
		}
		_ = added[1].Close()
	}()
	c := redis.NewClient(&redis.Options{Addr: added[0].Addr().String()})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	slots, err := c.ClusterSlots(ctx).Result()
	if err != nil || len(slots) != 2 {
		t.Fatalf("CLUSTER SLOTS = %+v, %v; want two nodes, the second added but not yet served", slots, err)
	}
}

// TestClusterVirtualNodesOneAddress checks a listener with one address
// still splits the slots over the policy's virtual_nodes, all at the
// address the client reached, with distinct IDs.
func TestClusterVirtualNodesOneAddress(t *testing.T) {
	for _, tc := range []struct {
		name  string
		vnods uint32
		want  int
	}{
		{"default", 0, clusteremu.DefaultVirtualNodes},
		{"policy", 4, 4},
		{"one", 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, addrs := startListeners(t, 1)
			install(h.cur, "v1", map[string]engine.Engine{"default": engine.Func(func(context.Context, engine.Batch) {})}, emulating(tc.vnods))
			c := redis.NewClient(&redis.Options{Addr: addrs[0]})
			defer c.Close()
			slots, err := c.ClusterSlots(context.Background()).Result()
			if err != nil || len(slots) != tc.want || slots[len(slots)-1].End != cluster.Slots-1 {
				t.Fatalf("CLUSTER SLOTS = %+v, %v", slots, err)
			}
			seen := map[string]bool{}
			for _, s := range slots {
				if s.Nodes[0].Addr != addrs[0] || seen[s.Nodes[0].ID] {
					t.Fatalf("CLUSTER SLOTS = %+v", slots)
				}
				seen[s.Nodes[0].ID] = true
			}
		})
	}
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return a.Port
}

// ids2addr finds the address of a node id.
func ids2addr(ids map[string]string, id string) string {
	for a, i := range ids {
		if i == id {
			return a
		}
	}
	return "?"
}

// Add on a server that is shutting down refuses the listener and closes
// it, as Serve does.
func TestAddAfterShutdown(t *testing.T) {
	srv := New(Config{NodeID: "test", Current: &engine.Current{}, Limits: DefaultLimits()})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Add(ln, "main"); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Add after Shutdown = %v, want ErrServerClosed", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("the refused listener still accepts: %v", err)
	}
}
