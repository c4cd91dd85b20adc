package upstream

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/redistest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func TestPoolsShareByIdentity(t *testing.T) {
	s := redistest.Start(t)
	p := NewPools(Options{}, nil)
	defer p.Close()

	a := standalone("main", s.Addr)
	a.Source = "policy.star:3:1"
	b := standalone("cache", s.Addr) // another name, same Redis
	b.Source = "other.star:9:5"
	c := standalone("main", s.Addr)
	c.Pool = &keywayv1.Pool{Connections: 1} // same name, other identity

	ua, releaseA, err := p.Acquire(a)
	if err != nil {
		t.Fatal(err)
	}
	ub, releaseB, err := p.Acquire(b)
	if err != nil {
		t.Fatal(err)
	}
	uc, releaseC, err := p.Acquire(c)
	if err != nil {
		t.Fatal(err)
	}
	if ua.(*Client).Node() != ub.(*Client).Node() {
		t.Fatal("two names of one identity got different nodes")
	}
	if ua.(*Client).Node() == uc.(*Client).Node() {
		t.Fatal("different pool options shared a node")
	}
	if ua.Name() != "main" || ub.Name() != "cache" {
		t.Fatalf("names %q and %q", ua.Name(), ub.Name())
	}
	for _, tc := range []struct {
		u    engine.Upstream
		name string
	}{{ua, "main"}, {ub, "cache"}, {uc, "main"}} {
		r := req("PING")
		tc.u.Serve(context.Background(), engine.Batch{r})
		if string(r.Raw()) != "+PONG\r\n" || r.Upstream != tc.name {
			t.Fatalf("via %s: reply %q upstream %q", tc.name, r.Raw(), r.Upstream)
		}
	}
	stats := p.Stats()
	if len(stats) != 2 {
		t.Fatalf("%d nodes, want 2: %+v", len(stats), stats)
	}
	eventually(t, "every connection to be up", func() bool { return clients(t, s) == DefaultConnections+1 })

	releaseC()
	releaseA()
	releaseA() // a second call is a no-op, not a second release
	if got := p.Stats(); len(got) != 1 || len(got[0].Upstreams) != 1 || got[0].Upstreams[0] != "cache" {
		t.Fatalf("after releasing main: %+v", got)
	}
	r := req("PING")
	ub.Serve(context.Background(), engine.Batch{r})
	if string(r.Raw()) != "+PONG\r\n" {
		t.Fatalf("the shared node closed while still referenced: %q", r.Raw())
	}
	releaseB()
	if got := p.Stats(); len(got) != 0 {
		t.Fatalf("after the last release: %+v", got)
	}
	eventually(t, "redis to see every connection close", func() bool { return clients(t, s) == 0 })
	r = req("PING")
	ub.Serve(context.Background(), engine.Batch{r})
	if !errors.Is(r.Err(), ErrClosed) {
		t.Fatalf("after close: %q", r.Raw())
	}
}

func TestPoolsRefuse(t *testing.T) {
	p := NewPools(Options{}, nil)
	defer p.Close()
	for _, tc := range []struct {
		name string
		u    *keywayv1.Upstream
		want string
	}{
		{"cluster", &keywayv1.Upstream{Name: "c", Kind: &keywayv1.Upstream_Cluster{Cluster: &keywayv1.Cluster{Seeds: []string{"127.0.0.1:7000"}}}}, "redis_cluster upstreams are not supported yet"},
		{"no kind", &keywayv1.Upstream{Name: "x"}, "upstream has no kind (standalone or redis_cluster)"},
		{"no address", standalone("x", ""), "standalone upstream has no address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := p.Acquire(tc.u); err == nil || err.Error() != tc.want {
				t.Fatalf("Acquire: %v; want %q", err, tc.want)
			}
		})
	}
	p.Close()
	if _, _, err := p.Acquire(standalone("x", "127.0.0.1:1")); err == nil {
		t.Fatal("Acquire after Close succeeded")
	}
}

func TestOptionsWithPool(t *testing.T) {
	base := Options{Connections: 4, Timeout: 2 * time.Second}
	for _, tc := range []struct {
		name string
		pool *keywayv1.Pool
		want Options
	}{
		{"no pool keeps the proxy's settings", nil, Options{Connections: 4, Timeout: 2 * time.Second}},
		{"policy overrides", &keywayv1.Pool{
			Connections: 8, DedicatedMax: 3,
			Timeout: durationpb.New(50 * time.Millisecond), ConnectTimeout: durationpb.New(time.Second),
		}, Options{Connections: 8, DedicatedMax: 3, Timeout: 50 * time.Millisecond, ConnectTimeout: time.Second}},
		{"zeros mean the default", &keywayv1.Pool{Timeout: durationpb.New(0)}, Options{Connections: 4, Timeout: 2 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := base.WithPool(tc.pool)
			want := tc.want.withDefaults()
			if got != want {
				t.Fatalf("WithPool = %+v, want %+v", got, want)
			}
		})
	}
	if d := (Options{}).withDefaults(); d.Connections != 2 || d.Timeout != time.Second || d.ConnectTimeout != 500*time.Millisecond || d.DedicatedMax != 64 {
		t.Fatalf("defaults: %+v", d)
	}
}

func TestPoolsCloseStopsGoroutines(t *testing.T) {
	s := redistest.Start(t)
	before := runtime.NumGoroutine()
	p := NewPools(Options{Connections: 4}, nil)
	u, release, err := p.Acquire(standalone("main", s.Addr))
	if err != nil {
		t.Fatal(err)
	}
	r := req("PING")
	u.Serve(context.Background(), engine.Batch{r})
	d, err := u.(*Client).Dedicated(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d.Release()
	if runtime.NumGoroutine() <= before {
		t.Fatal("the node started no goroutines")
	}
	release()
	p.Close()
	// Close returns once every goroutine has signalled it is done; the
	// last of them may still be running its deferred return, so the count
	// is polled for a while rather than read once.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := runtime.NumGoroutine(); got > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after Close, %d before\n%s", got, before, buf[:runtime.Stack(buf, true)])
	}
}
