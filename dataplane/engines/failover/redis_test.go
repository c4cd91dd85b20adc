package failover

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	forward "keyway.dev/dataplane/engines/upstream"
	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func registry() *engine.Registry {
	r := engine.NewRegistry()
	engine.Add(r, "failover", Build)
	engine.Add(r, "upstream", forward.Build)
	return r
}

func ups(addrs map[string]string) []*keywayv1.Upstream {
	var out []*keywayv1.Upstream
	for n, a := range addrs {
		out = append(out, &keywayv1.Upstream{Name: n, Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: a}}})
	}
	return out
}

// TestKilledRedis fails over from a redis-server killed mid-test to a
// live one, through the real upstream client.
func TestKilledRedis(t *testing.T) {
	east, west := redistest.Start(t), redistest.Start(t)
	east.Do("SET", "k", "east")
	west.Do("SET", "k", "west")

	// One connection per node, so the first failure after the kill is
	// seen by every later request.
	pools := upstream.NewPools(upstream.Options{Connections: 1, Timeout: 2 * time.Second, ConnectTimeout: time.Second}, nil)
	t.Cleanup(pools.Close)
	b := engine.NewBuilder(registry(), pools, "test", ups(map[string]string{"east": east.Addr, "west": west.Addr}), nil)
	fwd := func(n string) *keywayv1.Engine {
		return &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: n}}}
	}
	root, err := b.Build(&keywayv1.Engine{Kind: &keywayv1.Engine_Failover{Failover: &keywayv1.Failover{
		Children:         []*keywayv1.Engine{fwd("east"), fwd("west")},
		FailureThreshold: 2,
		Cooldown:         durationpb.New(time.Hour),
	}}})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(b.Release())
	f := root.(*engine.Labeled).Engine.(*Failover)
	ctx := context.Background()
	do := func(line string) *engine.Request {
		r := enginetest.Line(line)
		engine.Do(ctx, root, r)
		return r
	}

	if r := do("GET k"); enginetest.Reply(r) != "$4\r\neast\r\n" {
		t.Fatalf("before the kill: %q, want east's value", enginetest.Reply(r))
	}
	east.Kill()

	// A read is always safe to resend: west answers it.
	if r := do("GET k"); enginetest.Reply(r) != "$4\r\nwest\r\n" || r.Upstream != "west" {
		t.Fatalf("read after the kill: %q from %s, want west's value", enginetest.Reply(r), r.Upstream)
	}
	// The connection to east is known down now, so a write fails there
	// before it is sent, which makes it safe to resend too; this second
	// failure opens east's breaker.
	if r := do("SET w 1"); enginetest.Reply(r) != "+OK\r\n" || r.Upstream != "west" {
		t.Fatalf("write after the kill: %q from %s, want +OK from west", enginetest.Reply(r), r.Upstream)
	}
	if got := west.Do("GET", "w"); !strings.Contains(got, "1") {
		t.Errorf("west has w = %q, want 1", got)
	}
	if got := f.Stats().Children[0].State; got != Open {
		t.Fatalf("east's breaker is %v, want open", got)
	}
	// With the breaker open, a pipeline goes straight to west, in order.
	batch := enginetest.Lines("SET p 1", "INCR p", "GET p")
	root.Serve(ctx, batch)
	want := []string{"+OK\r\n", ":2\r\n", "$1\r\n2\r\n"}
	for i, r := range batch {
		if got := enginetest.Reply(r); got != want[i] || r.Upstream != "west" {
			t.Errorf("pipeline reply %d = %q from %s, want %q from west", i, got, r.Upstream, want[i])
		}
	}
	if got := f.Stats().Retried; got != 2 {
		t.Errorf("Retried = %d, want 2 (the read and the unsent write)", got)
	}
}
