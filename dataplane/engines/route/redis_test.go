package route

import (
	"context"
	"reflect"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/redistest"
	pools "keyway.dev/dataplane/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// TestAgainstRedis runs a route over two real redis-servers through the
// proxy's real upstream pools: split writes land on the right server and
// split reads come back whole and in order.
func TestAgainstRedis(t *testing.T) {
	users, other := redistest.Start(t), redistest.Start(t)
	p := pools.NewPools(pools.Options{}, nil)
	t.Cleanup(p.Close)
	decl := []*keywayv1.Upstream{
		{Name: "users", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: users.Addr}}},
		{Name: "other", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: other.Addr}}},
	}
	b := engine.NewBuilder(registry(), p, "test", decl, nil)
	root, err := b.Build(routeOf(fwd("other"), "user:", fwd("users")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Release())

	batch := enginetest.Lines(
		"MSET user:1 ada x 1 user:2 bob",
		"MGET user:1 x nope user:2",
		"EXISTS user:1 x user:9",
		"MSETNX user:3 a y b",
		"DEL user:1 x",
		"MGET user:1 x user:2",
	)
	root.Serve(context.Background(), batch)
	want := []string{
		"+OK\r\n",
		"*4\r\n$3\r\nada\r\n$1\r\n1\r\n$-1\r\n$3\r\nbob\r\n",
		":2\r\n",
		"-CROSSSLOT keyway: keys of MSETNX route to different engines (prefix \"user:\" and default) and MSETNX cannot be split without losing atomicity\r\n",
		":2\r\n",
		"*3\r\n$-1\r\n$-1\r\n$3\r\nbob\r\n",
	}
	if got := enginetest.Replies(batch); !reflect.DeepEqual(got, want) {
		t.Errorf("replies\n got %q\nwant %q", got, want)
	}
	if got := users.Do("GET", "user:2"); got != "bob" {
		t.Errorf("users server has user:2 = %q", got)
	}
	if got := other.Do("EXISTS", "user:2"); got != ":0" {
		t.Errorf("other server has user:2: %q", got)
	}
	if got := users.Do("EXISTS", "user:3"); got != ":0" {
		t.Errorf("refused MSETNX wrote user:3: %q", got)
	}
}
