package frontend

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/all"
	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/reload"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// withUpstreamLimits is withRealUpstream with limits of the test's
// choosing and the upstream pools, whose counts tell whether dedicated
// connections were given back.
func withUpstreamLimits(t *testing.T, limits Limits) (*harness, *redistest.Server, *upstream.Pools) {
	t.Helper()
	r := redistest.Start(t)
	h := startServer(t, limits)
	pools := upstream.NewPools(upstream.Options{DedicatedIdle: 1}, slog.New(slog.DiscardHandler))
	a := reload.NewApplier(all.Registry(), pools, &engine.Env{NodeID: "test"}, h.cur, slog.New(slog.DiscardHandler))
	tree := &keywayv1.DomainTree{
		Version: "v1",
		Root:    &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "main"}}},
		Upstreams: []*keywayv1.Upstream{{Name: "main",
			Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: r.Addr}}}},
	}
	proxy := &keywayv1.ProxyConfig{Name: "proxy", Identity: &keywayv1.Identity{DefaultDomain: "default"}}
	if err := a.Apply([]*keywayv1.Domain{{Name: "default", Stable: tree}}, proxy, "v1"); err != nil {
		t.Fatalf("apply: %v", err)
	}
	t.Cleanup(pools.Close)
	t.Cleanup(func() { h.cur.Install(nil) })
	return h, r, pools
}

// step is one move of a pub/sub script: conn sends cmds (in one write
// when there are several) and reads n replies; no cmds only reads.
type step struct {
	conn int
	cmds [][]string
	n    int
}

func send(conn int, n int, args ...string) step {
	return step{conn: conn, cmds: [][]string{args}, n: n}
}
func recv(conn int, n int) step { return step{conn: conn, n: n} }

// runScript plays steps on fresh connections to addr and returns every
// raw reply, in order.
func runScript(t *testing.T, addr string, steps []step) []string {
	t.Helper()
	conns := map[int]*rawConn{}
	var out []string
	for _, s := range steps {
		c := conns[s.conn]
		if c == nil {
			c = dialRaw(t, addr)
			conns[s.conn] = c
		}
		var b []byte
		for _, args := range s.cmds {
			bs := make([][]byte, len(args))
			for i, a := range args {
				bs[i] = []byte(a)
			}
			b = resp.AppendCommand(b, bs)
		}
		if len(b) > 0 {
			c.send(string(b))
		}
		for range s.n {
			out = append(out, fmt.Sprintf("%d %v: %s", s.conn, s.cmds, c.reply()))
		}
	}
	return out
}

// TestPubSubMatchesRedis plays scripts against redis-server and through
// the proxy and compares every reply byte for byte.
func TestPubSubMatchesRedis(t *testing.T) {
	h, r, pools := withUpstreamLimits(t, DefaultLimits())
	scripts := []struct {
		name  string
		steps []step
	}{
		{"channels patterns shards", []step{
			send(0, 2, "SUBSCRIBE", "a", "b"),
			send(0, 1, "GET", "x"), // not allowed in this context
			send(0, 1, "CLIENT", "LIST"),
			send(0, 1, "ECHO", "x"),
			send(0, 1, "PING"),
			send(0, 1, "PING", "hi"),
			send(0, 1, "NOSUCH"),
			send(1, 1, "PUBLISH", "a", "m1"),
			recv(0, 1),
			send(0, 1, "PSUBSCRIBE", "n.*"),
			send(1, 1, "PUBLISH", "n.x", "m2"),
			recv(0, 1),
			send(0, 1, "SSUBSCRIBE", "s"),
			send(1, 1, "SPUBLISH", "s", "m3"),
			recv(0, 1),
			send(0, 2, "UNSUBSCRIBE", "a", "b"),
			send(0, 1, "PUNSUBSCRIBE"),
			send(0, 1, "GET", "x"), // still subscribed to a shard channel
			send(0, 1, "SUNSUBSCRIBE"),
			send(0, 1, "SET", "x", "1"), // back on the normal path
			send(0, 1, "GET", "x"),
			send(1, 1, "PUBLISH", "a", "nobody"),
		}},
		{"unsubscribe when not subscribed", []step{
			send(0, 1, "UNSUBSCRIBE"),
			send(0, 2, "PUNSUBSCRIBE", "c", "d"),
			send(0, 1, "SUNSUBSCRIBE", "e"),
			send(0, 1, "PING"),
		}},
		{"pipelined in and out", []step{
			{conn: 0, n: 5, cmds: [][]string{
				{"SET", "p", "1"}, {"SUBSCRIBE", "p"}, {"PING"}, {"UNSUBSCRIBE", "p"}, {"GET", "p"}}},
		}},
		{"watch survives a subscription", []step{
			send(0, 1, "WATCH", "w"),
			send(0, 1, "SUBSCRIBE", "q"),
			send(1, 1, "SET", "w", "other"),
			send(0, 1, "UNSUBSCRIBE", "q"),
			send(0, 1, "MULTI"),
			send(0, 1, "SET", "w", "mine"),
			send(0, 1, "EXEC"),
			send(0, 1, "GET", "w"),
		}},
		{"reset while subscribed", []step{
			send(0, 1, "SUBSCRIBE", "r"),
			send(0, 1, "RESET"),
			send(1, 1, "PUBLISH", "r", "x"),
			send(0, 1, "PING"),
		}},
		{"wrong arity", []step{
			send(0, 1, "SUBSCRIBE"),
			send(0, 1, "PING"),
		}},
		{"quit while subscribed", []step{
			send(0, 1, "SUBSCRIBE", "z"),
			send(0, 1, "QUIT"),
			send(1, 1, "PUBLISH", "z", "x"),
		}},
	}
	for _, sc := range scripts {
		t.Run(sc.name, func(t *testing.T) {
			r.Do("FLUSHALL")
			want := runScript(t, r.Addr, sc.steps)
			r.Do("FLUSHALL")
			got := runScript(t, h.addr, sc.steps)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("reply %d:\nproxy %q\nredis %q", i, got[i], want[i])
				}
			}
		})
	}
	// Every script ended its subscriptions: no dedicated connection is
	// still lent out.
	waitFor(t, "dedicated connections given back", func() error {
		return dedicatedInUse(pools, 0)
	})
}

// dedicatedInUse fails unless want dedicated connections are lent out.
func dedicatedInUse(p *upstream.Pools, want int) error {
	for _, st := range p.Stats() {
		if n := st.Dedicated - st.DedicatedIdle; n != want {
			return fmt.Errorf("node %s: %d dedicated connections in use, want %d", st.Addr, n, want)
		}
	}
	return nil
}

// waitFor polls cond until it holds, failing after a generous limit.
func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPubSubGoRedis(t *testing.T) {
	h, _, _ := withUpstreamLimits(t, DefaultLimits())
	ctx := context.Background()
	sub := redis.NewClient(&redis.Options{Addr: h.addr})
	defer sub.Close()
	pub := redis.NewClient(&redis.Options{Addr: h.addr})
	defer pub.Close()

	ps := sub.Subscribe(ctx, "orders")
	defer ps.Close()
	if err := ps.PSubscribe(ctx, "events.*"); err != nil {
		t.Fatal(err)
	}
	// Receive returns the confirmations first.
	for range 2 {
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatalf("confirmation: %v", err)
		}
	}
	const n = 500
	for i := range n {
		ch := "orders"
		if i%2 == 1 {
			ch = "events." + fmt.Sprint(i%7)
		}
		if got, err := pub.Publish(ctx, ch, fmt.Sprint(i)).Result(); err != nil || got != 1 {
			t.Fatalf("publish %d: %d receivers, %v", i, got, err)
		}
	}
	msgs := ps.Channel()
	for i := range n {
		select {
		case m := <-msgs:
			if m.Payload != fmt.Sprint(i) {
				t.Fatalf("message %d has payload %q: out of order", i, m.Payload)
			}
			wantPattern := ""
			if i%2 == 1 {
				wantPattern = "events.*"
			}
			if m.Pattern != wantPattern {
				t.Fatalf("message %d pattern %q, want %q", i, m.Pattern, wantPattern)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("message %d never arrived", i)
		}
	}
}

func TestPubSubDisconnectReleases(t *testing.T) {
	h, r, pools := withUpstreamLimits(t, DefaultLimits())
	c := dialRaw(t, h.addr)
	if got := c.cmd("SUBSCRIBE", "gone"); got != "*3\r\n$9\r\nsubscribe\r\n$4\r\ngone\r\n:1\r\n" {
		t.Fatalf("subscribe: %q", got)
	}
	if err := dedicatedInUse(pools, 1); err != nil {
		t.Fatal(err)
	}
	c.c.Close()
	direct := dialRaw(t, r.Addr)
	waitFor(t, "subscription ended in redis", func() error {
		if got := direct.cmd("PUBSUB", "NUMSUB", "gone"); got != "*2\r\n$4\r\ngone\r\n:0\r\n" {
			return fmt.Errorf("numsub %q", got)
		}
		return nil
	})
	waitFor(t, "dedicated connection released", func() error { return dedicatedInUse(pools, 0) })
	waitClients(t, h.srv, 0)
}

func TestPubSubSlowReaderDropped(t *testing.T) {
	l := DefaultLimits()
	l.MaxPubSubOutput = 256 << 10
	l.WriteTimeout = 0 // only the output bound may drop the client
	h, r, pools := withUpstreamLimits(t, l)
	slow := dialRaw(t, h.addr)
	if got := slow.cmd("SUBSCRIBE", "firehose"); got != "*3\r\n$9\r\nsubscribe\r\n$8\r\nfirehose\r\n:1\r\n" {
		t.Fatalf("subscribe: %q", got)
	}
	other := dialRaw(t, h.addr)
	payload := strings.Repeat("x", 64<<10)
	// The slow client reads nothing; far more than socket buffers and
	// the limit hold is published until the proxy lets it go.
	waitFor(t, "slow subscriber dropped", func() error {
		got := r.Do("PUBLISH", "firehose", payload)
		if got == ":0" {
			return nil
		}
		return fmt.Errorf("publish reached %s subscribers", got)
	})
	if !slow.closed() {
		t.Fatal("slow subscriber's connection still open")
	}
	waitFor(t, "dedicated connection released", func() error { return dedicatedInUse(pools, 0) })
	if got := other.cmd("PING"); got != "+PONG\r\n" {
		t.Fatalf("other client: %q", got)
	}
}

func BenchmarkPubSubRelay(b *testing.B) {
	r := redistest.Start(b)
	h := startServer(b, DefaultLimits())
	pools := upstream.NewPools(upstream.Options{}, slog.New(slog.DiscardHandler))
	b.Cleanup(pools.Close)
	a := reload.NewApplier(all.Registry(), pools, &engine.Env{NodeID: "bench"}, h.cur, slog.New(slog.DiscardHandler))
	tree := &keywayv1.DomainTree{
		Version: "v1",
		Root:    &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "main"}}},
		Upstreams: []*keywayv1.Upstream{{Name: "main",
			Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: r.Addr}}}},
	}
	if err := a.Apply([]*keywayv1.Domain{{Name: "default", Stable: tree}}, &keywayv1.ProxyConfig{Identity: &keywayv1.Identity{DefaultDomain: "default"}}, "v1"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.cur.Install(nil) })
	ctx := context.Background()
	sub := redis.NewClient(&redis.Options{Addr: h.addr})
	defer sub.Close()
	ps := sub.Subscribe(ctx, "bench")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		b.Fatal(err)
	}
	pub := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer pub.Close()
	msgs := ps.Channel()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := pub.Publish(ctx, "bench", "payload").Err(); err != nil {
			b.Fatal(err)
		}
		<-msgs
	}
}

// TestSubscribedContextError pins Redis's words for a command a
// subscribed client may not run, which clients match on.
func TestSubscribedContextError(t *testing.T) {
	h, _, _ := withUpstreamLimits(t, DefaultLimits())
	c := dialRaw(t, h.addr)
	c.cmd("SUBSCRIBE", "ch")
	got := c.cmd("SET", "k", "v")
	want := "-ERR Can't execute 'set': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestSubscriberNotIdle: the idle timeout closes idle clients but not
// subscribers waiting for messages, as in Redis, and applies again once
// the subscription ends.
func TestSubscriberNotIdle(t *testing.T) {
	l := DefaultLimits()
	l.IdleTimeout = 50 * time.Millisecond
	h, r, _ := withUpstreamLimits(t, l)
	sub := dialRaw(t, h.addr)
	if got := sub.cmd("SUBSCRIBE", "quiet"); got != "*3\r\n$9\r\nsubscribe\r\n$5\r\nquiet\r\n:1\r\n" {
		t.Fatalf("subscribe: %q", got)
	}
	idle := dialRaw(t, h.addr)
	if got := idle.cmd("PING"); got != "+PONG\r\n" {
		t.Fatalf("ping: %q", got)
	}
	if !idle.closed() { // waits for the idle timeout to close it
		t.Fatal("idle client not closed")
	}
	if got := r.Do("PUBLISH", "quiet", "still here"); got != ":1" {
		t.Fatalf("publish reached %s subscribers after the idle timeout", got)
	}
	if got := sub.reply(); got != "*3\r\n$7\r\nmessage\r\n$5\r\nquiet\r\n$10\r\nstill here\r\n" {
		t.Fatalf("message: %q", got)
	}
	if got := sub.cmd("UNSUBSCRIBE"); got != "*3\r\n$11\r\nunsubscribe\r\n$5\r\nquiet\r\n:0\r\n" {
		t.Fatalf("unsubscribe: %q", got)
	}
	if !sub.closed() {
		t.Fatal("former subscriber not closed when idle")
	}
}
