package nearcache

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"keyway.dev/dataplane/cluster"
	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/engines/route"
	upstreameng "keyway.dev/dataplane/engines/upstream"
	"keyway.dev/dataplane/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// proxy is one proxy's near cache over a real Redis: its own pools, so
// two of them share nothing but Redis, as two proxy processes would.
type proxy struct {
	t    testing.TB
	root engine.Engine
	nc   *NearCache
}

func standalone(addr string) *keywayv1.Upstream {
	return &keywayv1.Upstream{Name: "main", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: addr}}}
}

func registry() *engine.Registry {
	r := engine.NewRegistry()
	engine.Add(r, "near_cache", Build)
	engine.Add(r, "upstream", upstreameng.Build)
	engine.Add(r, "route", route.Build)
	return r
}

func leaf(name string) *keywayv1.Engine {
	return &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: name}}}
}

func routeTree() *keywayv1.Engine {
	return &keywayv1.Engine{Kind: &keywayv1.Engine_Route{Route: &keywayv1.Route{Default: leaf("main")}}}
}

// newProxy builds cfg over up and waits until its tracking is live.
func newProxy(t testing.TB, up *keywayv1.Upstream, cfg *keywayv1.NearCache) *proxy {
	t.Helper()
	pools := upstream.NewPools(upstream.Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	pools.SetCluster(cluster.NewShared)
	t.Cleanup(pools.Close)
	if cfg.Next == nil {
		cfg.Next = leaf("main")
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = 1 << 20
	}
	b := engine.NewBuilder(registry(), pools, "web", []*keywayv1.Upstream{up}, nil)
	root, err := b.Build(&keywayv1.Engine{Kind: &keywayv1.Engine_NearCache{NearCache: cfg}})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(b.Release())
	p := &proxy{t: t, root: root, nc: root.(*engine.Labeled).Engine.(*NearCache)}
	p.waitLive()
	return p
}

// waitLive polls until every primary is tracked.
func (p *proxy) waitLive() {
	p.t.Helper()
	waitFor(p.t, "tracking to be live", func() bool { return p.nc.Live() })
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var resp3Session = &engine.Session{ID: 3, Domain: "web", Proto: 3}

// do serves one command and returns the raw reply.
func (p *proxy) do(args ...string) string {
	r := enginetest.Req(args...)
	engine.Do(context.Background(), p.root, r)
	return string(r.Raw())
}

// do3 is do for a RESP3 client.
func (p *proxy) do3(args ...string) string {
	r := enginetest.Req(args...)
	r.Session = resp3Session
	engine.Do(context.Background(), p.root, r)
	return string(r.Raw())
}

func (p *proxy) sync() {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.nc.Sync(ctx); err != nil {
		p.t.Fatalf("Sync: %v", err)
	}
}

func (p *proxy) stat(name string) uint64 {
	for _, c := range p.nc.AppendStats(nil) {
		if c.Name == name {
			return c.Value
		}
	}
	p.t.Fatalf("no counter %q", name)
	return 0
}

func bulk(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }

// trackingClients returns the CLIENT IDs of the tracking connections on
// the Redis at addr.
func trackingClients(t testing.TB, addr string) []string {
	t.Helper()
	text := rawDo(t, addr, "CLIENT", "LIST")
	var ids []string
	for _, line := range strings.Split(text, "\n") {
		var id, flags string
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "id="); ok {
				id = v
			}
			if v, ok := strings.CutPrefix(f, "flags="); ok {
				flags = v
			}
		}
		if strings.Contains(flags, "t") {
			ids = append(ids, id)
		}
	}
	return ids
}

// rawDo sends one command and returns a bulk reply's payload or the
// reply's first line.
func rawDo(t testing.TB, addr string, args ...string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(c, "$%d\r\n%s\r\n", len(a), a)
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	if line[0] != '$' {
		return strings.TrimSpace(line)
	}
	var n int
	fmt.Sscanf(line, "$%d", &n)
	if n < 0 {
		return "(nil)"
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(br, buf); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return string(buf[:n])
}
