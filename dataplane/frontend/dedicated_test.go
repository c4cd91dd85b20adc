package frontend

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/all"
	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/reload"
	"keyway.dev/dataplane/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// withRealUpstream serves a "default" domain compiled by the real
// registry and pools: one upstream leaf to a real redis-server.
func withRealUpstream(t testing.TB) (*harness, *redistest.Server) {
	t.Helper()
	r := redistest.Start(t)
	h := startServer(t, DefaultLimits())
	pools := upstream.NewPools(upstream.Options{}, slog.New(slog.DiscardHandler))
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
	// Cleanups run last-in first-out: the server is shut down first, then
	// the trees are retired and the pools closed.
	t.Cleanup(pools.Close)
	t.Cleanup(func() { h.cur.Install(nil) })
	return h, r
}

func TestTransactionOnDedicatedConnection(t *testing.T) {
	h, _ := withRealUpstream(t)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: h.addr})
	defer rdb.Close()
	var incr *redis.IntCmd
	if _, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "tx", "41", 0)
		incr = p.Incr(ctx, "tx")
		return nil
	}); err != nil {
		t.Fatalf("tx: %v", err)
	}
	if incr.Val() != 42 {
		t.Fatalf("incr in tx = %d", incr.Val())
	}

	c := dialRaw(t, h.addr)
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"EXEC"}, "-ERR EXEC without MULTI\r\n"},
		{[]string{"MULTI"}, "+OK\r\n"},
		{[]string{"PING"}, "+QUEUED\r\n"}, // queued upstream, not answered by the proxy
		{[]string{"NOSUCH"}, "-ERR unknown command 'NOSUCH', with args beginning with: \r\n"},
		{[]string{"EXEC"}, "-EXECABORT Transaction discarded because of previous errors.\r\n"},
		{[]string{"GET", "tx"}, "$2\r\n42\r\n"},
	}
	for _, s := range steps {
		if got := c.cmd(s.args...); got != s.want {
			t.Fatalf("%v: got %q, want %q", s.args, got, s.want)
		}
	}
}

func TestWatchConflict(t *testing.T) {
	h, _ := withRealUpstream(t)
	a, b := dialRaw(t, h.addr), dialRaw(t, h.addr)
	steps := []struct {
		c    *rawConn
		args []string
		want string
	}{
		{a, []string{"WATCH", "w"}, "+OK\r\n"},
		{b, []string{"SET", "w", "other"}, "+OK\r\n"},
		{a, []string{"MULTI"}, "+OK\r\n"},
		{a, []string{"SET", "w", "mine"}, "+QUEUED\r\n"},
		{a, []string{"EXEC"}, "*-1\r\n"},
		{a, []string{"GET", "w"}, "$5\r\nother\r\n"},
	}
	for _, s := range steps {
		if got := s.c.cmd(s.args...); got != s.want {
			t.Fatalf("%v: got %q, want %q", s.args, got, s.want)
		}
	}
}

func TestBlockingCommand(t *testing.T) {
	h, r := withRealUpstream(t)
	waiter, pusher := dialRaw(t, h.addr), dialRaw(t, h.addr)
	got := make(chan string, 1)
	go func() {
		waiter.send("*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
		got <- waiter.reply()
	}()
	// Push only once Redis holds the BLPOP blocked, so the wait itself is
	// what is tested.
	for !strings.Contains(r.Do("CLIENT", "LIST"), "cmd=blpop") {
		time.Sleep(10 * time.Millisecond)
	}
	if r := pusher.cmd("RPUSH", "q", "job"); r != ":1\r\n" {
		t.Fatalf("rpush = %q", r)
	}
	if r := <-got; r != "*2\r\n$1\r\nq\r\n$3\r\njob\r\n" {
		t.Fatalf("blpop = %q", r)
	}
	if r := waiter.cmd("PING"); r != "+PONG\r\n" {
		t.Fatalf("after blpop: %q", r)
	}
}
