package frontend

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/redistest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// TestClusterKeyspaceNotifications subscribes through the proxy to
// keyspace notifications of a real cluster: writes on every node are
// heard, where one node's connection hears only its own, while an
// ordinary PUBLISH, which the cluster broadcasts, arrives once.
func TestClusterKeyspaceNotifications(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 0)
	h := withPolicy(t, forward("cache"), &keywayv1.Upstream{Name: "cache",
		Kind: &keywayv1.Upstream_Cluster{Cluster: &keywayv1.Cluster{Seeds: cl.Seeds()}}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Seeds()})
	defer w.Close()
	for _, s := range cl.Primaries() {
		if got := dialRaw(t, s.Addr).cmd("CONFIG", "SET", "notify-keyspace-events", "KA"); got != "+OK\r\n" {
			t.Fatalf("CONFIG SET on %s: %q", s.Addr, got)
		}
	}
	for _, proto := range []string{"2", "3"} {
		t.Run("resp"+proto, func(t *testing.T) {
			c := dialRaw(t, h.addr)
			c.cmd("HELLO", proto)
			head := "*"
			if proto == "3" {
				head = ">"
			}
			if got := c.cmd("PSUBSCRIBE", "__keyspace@0__:*"); got != head+"3\r\n$10\r\npsubscribe\r\n$16\r\n__keyspace@0__:*\r\n:1\r\n" {
				t.Fatalf("PSUBSCRIBE = %q", got)
			}
			if got := c.cmd("SUBSCRIBE", "news"); got != head+"3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:2\r\n" {
				t.Fatalf("SUBSCRIBE = %q", got)
			}
			// "a", "b" and "c" live on three different primaries.
			for _, k := range []string{"a", "b", "c"} {
				if err := w.Set(ctx, k, "v", 0).Err(); err != nil {
					t.Fatal(err)
				}
				want := fmt.Sprintf("%s4\r\n$8\r\npmessage\r\n$16\r\n__keyspace@0__:*\r\n$16\r\n__keyspace@0__:%s\r\n$3\r\nset\r\n", head, k)
				expectFrame(t, c, want)
			}
			if err := w.Publish(ctx, "news", "once").Err(); err != nil {
				t.Fatal(err)
			}
			expectFrame(t, c, head+"3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$4\r\nonce\r\n")
			// A second copy of the message would come before this event.
			if err := w.Del(ctx, "b").Err(); err != nil {
				t.Fatal(err)
			}
			expectFrame(t, c, head+"4\r\n$8\r\npmessage\r\n$16\r\n__keyspace@0__:*\r\n$16\r\n__keyspace@0__:b\r\n$3\r\ndel\r\n")
			// A pattern that matches everything hears every node's
			// notifications too, and a broadcast message once.
			if got := c.cmd("PSUBSCRIBE", "*"); got != head+"3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:3\r\n" {
				t.Fatalf("PSUBSCRIBE * = %q", got)
			}
			if err := w.Set(ctx, "c", "w", 0).Err(); err != nil {
				t.Fatal(err)
			}
			events := map[string]bool{}
			for range 2 {
				_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
				events[c.reply()] = true
			}
			for _, pat := range []string{"__keyspace@0__:*", "*"} {
				want := fmt.Sprintf("%s4\r\n$8\r\npmessage\r\n$%d\r\n%s\r\n$16\r\n__keyspace@0__:c\r\n$3\r\nset\r\n", head, len(pat), pat)
				if !events[want] {
					t.Fatalf("no %q among %v", want, events)
				}
			}
			if err := w.Publish(ctx, "news", "twice?").Err(); err != nil {
				t.Fatal(err)
			}
			expectFrame(t, c, head+"3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$6\r\ntwice?\r\n")
			expectFrame(t, c, head+"4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$4\r\nnews\r\n$6\r\ntwice?\r\n")
			if err := w.Del(ctx, "a").Err(); err != nil {
				t.Fatal(err)
			}
			// Had the broadcast message come twice, it would be read here.
			for range 2 {
				_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if got := c.reply(); !strings.Contains(got, "__keyspace@0__:a\r\n$3\r\ndel") {
					t.Fatalf("after the DEL of a: %q", got)
				}
			}
			if got := c.cmd("PUNSUBSCRIBE", "*"); got != head+"3\r\n$12\r\npunsubscribe\r\n$1\r\n*\r\n:2\r\n" {
				t.Fatalf("PUNSUBSCRIBE * = %q", got)
			}
			if got := c.cmd("PUNSUBSCRIBE"); got != head+"3\r\n$12\r\npunsubscribe\r\n$16\r\n__keyspace@0__:*\r\n:1\r\n" {
				t.Fatalf("PUNSUBSCRIBE = %q", got)
			}
			if got := c.cmd("UNSUBSCRIBE"); got != head+"3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:0\r\n" {
				t.Fatalf("UNSUBSCRIBE = %q", got)
			}
			if got := c.cmd("SET", "z", "1"); got != "+OK\r\n" {
				t.Fatalf("SET after unsubscribing = %q", got)
			}
		})
	}
}
