package frontend

import (
	"log/slog"
	"strings"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/all"
	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/reload"
	"keyway.dev/dataplane/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// A subscribed client's commands go to its subscribed connection, not
// through the tree; the policy must still judge every channel it names,
// not only the first subscription's. RESP2 and RESP3 alike.
func TestSubscribedClientStaysInItsChannels(t *testing.T) {
	r := redistest.Start(t)
	h := startServer(t, Limits{})
	pools := upstream.NewPools(upstream.Options{DedicatedIdle: 1}, slog.New(slog.DiscardHandler))
	t.Cleanup(pools.Close)
	a := reload.NewApplier(all.Registry(), pools, &engine.Env{NodeID: "test"}, h.cur, slog.New(slog.DiscardHandler))
	tree := &keywayv1.DomainTree{
		Version: "v1",
		Root: &keywayv1.Engine{Kind: &keywayv1.Engine_Guard{Guard: &keywayv1.Guard{
			ChannelPrefixes: []string{"a."},
			Next:            &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "main"}}},
		}}},
		Upstreams: []*keywayv1.Upstream{{Name: "main",
			Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: r.Addr}}}},
	}
	proxy := &keywayv1.ProxyConfig{Name: "proxy", Identity: &keywayv1.Identity{DefaultDomain: "default"}}
	if err := a.Apply([]*keywayv1.Domain{{Name: "default", Stable: tree}}, proxy, "v1"); err != nil {
		t.Fatalf("apply: %v", err)
	}
	t.Cleanup(func() { h.cur.Install(nil) })

	for _, proto := range []string{"2", "3"} {
		t.Run("RESP"+proto, func(t *testing.T) {
			c := dialRaw(t, h.addr)
			c.cmd("HELLO", proto)
			if got := c.cmd("SUBSCRIBE", "b.x"); !strings.Contains(got, `channel "b.x" is outside this domain's channel prefixes`) {
				t.Fatalf("first SUBSCRIBE b.x = %q, want a refusal", got)
			}
			if got := c.cmd("SUBSCRIBE", "a.x"); !strings.Contains(got, "subscribe") {
				t.Fatalf("SUBSCRIBE a.x = %q", got)
			}
			for _, args := range [][]string{{"SUBSCRIBE", "b.x"}, {"PSUBSCRIBE", "*"}, {"SSUBSCRIBE", "b.s"}, {"SUBSCRIBE", "a.y", "b.y"}} {
				if got := c.cmd(args...); !strings.HasPrefix(got, "-ERR keyway: ") {
					t.Errorf("%v while subscribed = %q, want a refusal", args, got)
				}
			}
			// Nothing of b's reaches the client: what a publisher sends
			// to b.x is not relayed, and a.x's message is the next frame.
			if got := r.Do("PUBLISH", "b.x", "secret"); got != ":0" {
				t.Errorf("PUBLISH b.x reached %s subscribers, want 0", got)
			}
			if got := r.Do("PUBLISH", "a.x", "mine"); got != ":1" {
				t.Errorf("PUBLISH a.x reached %s subscribers, want 1", got)
			}
			if got := c.reply(); !strings.Contains(got, "mine") || strings.Contains(got, "secret") {
				t.Errorf("next frame = %q, want a.x's message", got)
			}
			if got := c.cmd("UNSUBSCRIBE", "a.x"); !strings.Contains(got, "unsubscribe") {
				t.Errorf("UNSUBSCRIBE a.x = %q", got)
			}
			// A watching client subscribes on the connection it holds,
			// which the tree did not open: the channel is judged all the
			// same, and the client goes on.
			w := dialRaw(t, h.addr)
			w.cmd("HELLO", proto)
			if got := w.cmd("WATCH", "k"); got != "+OK\r\n" {
				t.Fatalf("WATCH = %q", got)
			}
			if got := w.cmd("SUBSCRIBE", "b.x"); !strings.Contains(got, `channel "b.x" is outside`) {
				t.Errorf("SUBSCRIBE b.x while watching = %q, want a refusal", got)
			}
			if got := w.cmd("PUBLISH", "b.x", "m"); !strings.Contains(got, `channel "b.x" is outside`) {
				t.Errorf("PUBLISH b.x after = %q, want a refusal", got)
			}
			if got := w.cmd("PING"); !strings.Contains(got, "PONG") {
				t.Errorf("PING after = %q", got)
			}
		})
	}
}
