package frontend

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/cluster"
	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/all"
	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/reload"
	"keyway.dev/dataplane/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// TestClusterPubSub runs pub/sub through the proxy to a real Redis
// Cluster: SUBSCRIBE and PSUBSCRIBE hear what is published on any node
// (the cluster broadcasts PUBLISH), SSUBSCRIBE is pinned to the node
// owning its shard channel's slot and hears SPUBLISH, and go-redis's
// ClusterClient does the same through cluster emulation.
func TestClusterPubSub(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 0)
	_, addrs := emulatedCluster(t, cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("subscribe hears every node", func(t *testing.T) {
		sub := redis.NewClient(&redis.Options{Addr: addrs[0]})
		defer sub.Close()
		ps := sub.Subscribe(ctx, "news")
		defer ps.Close()
		if err := ps.PSubscribe(ctx, "ev.*"); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := ps.Receive(ctx); err != nil {
				t.Fatalf("confirmation: %v", err)
			}
		}
		msgs := ps.Channel()
		// Published on each node directly, then through the proxy from
		// several connections, which the proxy spreads over primaries.
		var want []string
		for i, n := range cl.Nodes {
			msg := fmt.Sprintf("direct-%d", i)
			n.Do("PUBLISH", "news", msg)
			want = append(want, "news "+msg)
		}
		for i := range 6 {
			pub := redis.NewClient(&redis.Options{Addr: addrs[i%len(addrs)]})
			msg := fmt.Sprintf("proxied-%d", i)
			if err := pub.Publish(ctx, "ev.x", msg).Err(); err != nil {
				t.Fatalf("PUBLISH through the proxy: %v", err)
			}
			pub.Close()
			want = append(want, "ev.x "+msg)
		}
		// Messages from different nodes cross the cluster bus, so only
		// each publisher's own order holds: compare the sets.
		var got []string
		for range want {
			select {
			case m := <-msgs:
				got = append(got, m.Channel+" "+m.Payload)
			case <-ctx.Done():
				t.Fatalf("received %q of %q", got, want)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("received %q, want %q", got, want)
		}
	})

	t.Run("subscribers spread over primaries", func(t *testing.T) {
		for i := range 3 {
			c := redis.NewClient(&redis.Options{Addr: addrs[i]})
			defer c.Close()
			ps := c.Subscribe(ctx, "spread")
			defer ps.Close()
			if _, err := ps.Receive(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range cl.Primaries() {
			direct := redis.NewClient(&redis.Options{Addr: p.Addr})
			got, err := direct.PubSubNumSub(ctx, "spread").Result()
			direct.Close()
			if err != nil || got["spread"] != 1 {
				t.Fatalf("primary %s has subscribers %v, %v; want one of the three", p.Addr, got, err)
			}
		}
	})

	// One shard channel per primary, so SSUBSCRIBE is pinned to each.
	channels := shardChannels(cl)
	t.Run("ssubscribe follows the slot", func(t *testing.T) {
		pub := redis.NewClient(&redis.Options{Addr: addrs[1]})
		defer pub.Close()
		for _, ch := range channels {
			sub := redis.NewClient(&redis.Options{Addr: addrs[0]})
			ps := sub.SSubscribe(ctx, ch)
			if _, err := ps.Receive(ctx); err != nil {
				t.Fatalf("SSUBSCRIBE %s: %v", ch, err)
			}
			// SPUBLISH counts the subscribers of the node that owns the
			// slot: 1 only if the subscription was pinned there.
			if n, err := pub.SPublish(ctx, ch, "hello "+ch).Result(); err != nil || n != 1 {
				t.Fatalf("SPUBLISH %s = %d, %v; want 1 receiver", ch, n, err)
			}
			m, err := ps.ReceiveMessage(ctx)
			if err != nil || m.Channel != ch || m.Payload != "hello "+ch {
				t.Fatalf("SSUBSCRIBE %s received %+v, %v", ch, m, err)
			}
			ps.Close()
			sub.Close()
		}
	})

	t.Run("ClusterClient through emulation", func(t *testing.T) {
		cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addrs[2]}, MaxRedirects: 0})
		defer cc.Close()
		ps := cc.SSubscribe(ctx, channels[1])
		defer ps.Close()
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatalf("SSUBSCRIBE: %v", err)
		}
		sub := cc.Subscribe(ctx, "alerts")
		defer sub.Close()
		if _, err := sub.Receive(ctx); err != nil {
			t.Fatalf("SUBSCRIBE: %v", err)
		}
		if n, err := cc.SPublish(ctx, channels[1], "s").Result(); err != nil || n != 1 {
			t.Fatalf("SPUBLISH = %d, %v", n, err)
		}
		if err := cc.Publish(ctx, "alerts", "p").Err(); err != nil {
			t.Fatalf("PUBLISH: %v", err)
		}
		for _, tc := range []struct {
			ps   *redis.PubSub
			want string
		}{{ps, channels[1] + " s"}, {sub, "alerts p"}} {
			m, err := tc.ps.ReceiveMessage(ctx)
			if err != nil || m.Channel+" "+m.Payload != tc.want {
				t.Fatalf("received %+v, %v; want %q", m, err, tc.want)
			}
		}
	})
}

// shardChannels returns one channel name per primary of cl, each hashing
// to a slot that primary serves.
func shardChannels(cl *redistest.Cluster) []string {
	var out []string
	for _, p := range cl.Primaries() {
		owned := map[int]bool{}
		for _, n := range cl.Topology(p) {
			if n.Addr != p.Addr {
				continue
			}
			for _, r := range n.Slots {
				var lo, hi int
				if k, _ := fmt.Sscanf(r, "%d-%d", &lo, &hi); k < 2 {
					hi = lo
				}
				for s := lo; s <= hi; s++ {
					owned[s] = true
				}
			}
		}
		for i := 0; ; i++ {
			ch := fmt.Sprintf("shard:%d", i)
			if owned[cluster.Slot([]byte(ch))] {
				out = append(out, ch)
				break
			}
		}
	}
	return out
}

// emulatedCluster serves a "default" domain over cl's cluster upstream on
// three listeners that emulate a cluster of three virtual nodes.
func emulatedCluster(t *testing.T, cl *redistest.Cluster) (*harness, []string) {
	t.Helper()
	h, addrs := startListeners(t, 3)
	pools := upstream.NewPools(upstream.Options{}, slog.New(slog.DiscardHandler))
	pools.SetCluster(cluster.NewShared)
	t.Cleanup(pools.Close)
	a := reload.NewApplier(all.Registry(), pools, &engine.Env{NodeID: "test"}, h.cur, slog.New(slog.DiscardHandler))
	tree := &keywayv1.DomainTree{
		Version: "v1",
		Root:    &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "cache"}}},
		Upstreams: []*keywayv1.Upstream{{Name: "cache",
			Kind: &keywayv1.Upstream_Cluster{Cluster: &keywayv1.Cluster{Seeds: cl.Seeds()}}}},
	}
	if err := a.Apply([]*keywayv1.Domain{{Name: "default", Stable: tree}}, emulating(3), "v1"); err != nil {
		t.Fatalf("apply: %v", err)
	}
	t.Cleanup(func() { h.cur.Install(nil) })
	return h, addrs
}
