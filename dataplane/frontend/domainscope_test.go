package frontend

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/all"
	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/reload"
	"keyway.dev/dataplane/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// CLIENT LIST and CLIENT UNBLOCK see only the caller's workload domain:
// another domain's client names, addresses and users are not listed, and
// its blocked commands cannot be unblocked from outside.
func TestClientCommandsStayInTheDomain(t *testing.T) {
	r := redistest.Start(t)
	h := startServer(t, DefaultLimits())
	pools := upstream.NewPools(upstream.Options{}, slog.New(slog.DiscardHandler))
	t.Cleanup(pools.Close)
	a := reload.NewApplier(all.Registry(), pools, &engine.Env{NodeID: "test"}, h.cur, slog.New(slog.DiscardHandler))
	tree := func() *keywayv1.DomainTree {
		return &keywayv1.DomainTree{
			Version: "v1",
			Root:    &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "main"}}},
			Upstreams: []*keywayv1.Upstream{{Name: "main",
				Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: r.Addr}}}},
		}
	}
	proxy := &keywayv1.ProxyConfig{Name: "proxy", Identity: &keywayv1.Identity{DefaultDomain: "a",
		ClientNames: []*keywayv1.NameRule{{Match: "a-", Domain: "a"}, {Match: "b-", Domain: "b"}}}}
	if err := a.Apply([]*keywayv1.Domain{{Name: "a", Stable: tree()}, {Name: "b", Stable: tree()}}, proxy, "v1"); err != nil {
		t.Fatalf("apply: %v", err)
	}
	t.Cleanup(func() { h.cur.Install(nil) })

	named := func(name string) *rawConn {
		c := dialRaw(t, h.addr)
		if got := c.cmd("CLIENT", "SETNAME", name); got != "+OK\r\n" {
			t.Fatalf("SETNAME %s: %q", name, got)
		}
		return c
	}
	a1, a2, b1, b2 := named("a-1"), named("a-2"), named("b-1"), named("b-2")
	list := a1.cmd("CLIENT", "LIST")
	if !strings.Contains(list, "name=a-1 ") || !strings.Contains(list, "name=a-2 ") || strings.Contains(list, "name=b-") {
		t.Errorf("CLIENT LIST in domain a = %q, want a-1 and a-2 only", list)
	}
	_ = a2

	id := strings.TrimSuffix(strings.TrimPrefix(b1.cmd("CLIENT", "ID"), ":"), "\r\n")
	b1.send("*3\r\n$5\r\nBLPOP\r\n$7\r\nd:empty\r\n$1\r\n0\r\n")
	for !strings.Contains(r.Do("CLIENT", "LIST"), "cmd=blpop") {
		time.Sleep(10 * time.Millisecond) // poll until Redis holds it blocked
	}
	if got := a1.cmd("CLIENT", "UNBLOCK", id); got != ":0\r\n" {
		t.Errorf("CLIENT UNBLOCK of domain b's client from domain a = %q, want :0", got)
	}
	if got := b2.cmd("CLIENT", "UNBLOCK", id); got != ":1\r\n" {
		t.Errorf("CLIENT UNBLOCK from its own domain = %q, want :1", got)
	}
	if got := b1.reply(); got != "*-1\r\n" {
		t.Errorf("the unblocked BLPOP answered %q, want a nil array", got)
	}
}
