package upstream

import (
	"context"
	"errors"
	"strings"
	"testing"

	"keyway.dev/dataplane/redistest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// TestOnConnect checks the on-connect commands reach every kind of
// connection after AUTH, survive a dedicated connection's RESET, and
// make a node unavailable when Redis refuses them.
func TestOnConnect(t *testing.T) {
	s := redistest.Start(t)
	s.Do("CONFIG", "SET", "requirepass", "setup-secret") // last: s.Do cannot AUTH
	t.Setenv("KEYWAY_TEST_SETUP_PASSWORD", "setup-secret")
	u := standalone("main", s.Addr)
	u.Credentials = &keywayv1.Credentials{Password: envRef("KEYWAY_TEST_SETUP_PASSWORD")}
	const name = "$12\r\nkeyway-setup\r\n"
	setName := []string{"CLIENT", "SETNAME", "keyway-setup"}

	t.Run("shared", func(t *testing.T) {
		n := startNode(t, u, s.Addr, Options{Connections: 2}, setName)
		for i := range 4 { // round robin: both connections
			if got := string(do(n, "main", "CLIENT", "GETNAME").Raw()); got != name {
				t.Fatalf("GETNAME %d = %q, want %q", i, got, name)
			}
		}
	})
	t.Run("dedicated after reset", func(t *testing.T) {
		n := startNode(t, u, s.Addr, Options{DedicatedIdle: 1}, setName)
		d, err := n.Dedicated(context.Background(), "main")
		if err != nil {
			t.Fatal(err)
		}
		if got := roundTrip(t, d, "CLIENT", "GETNAME"); got != name {
			t.Fatalf("new dedicated GETNAME = %q", got)
		}
		roundTrip(t, d, "CLIENT", "SETNAME", "someone-else")
		d.Release()
		if _, idle := n.ded.count(); idle != 1 {
			t.Fatalf("%d idle dedicated connections, want the released one", idle)
		}
		d, err = n.Dedicated(context.Background(), "main")
		if err != nil {
			t.Fatal(err)
		}
		defer d.Release()
		if got := roundTrip(t, d, "CLIENT", "GETNAME"); got != name {
			t.Fatalf("reused dedicated GETNAME = %q, want the on-connect name again", got)
		}
	})
	t.Run("refused", func(t *testing.T) {
		n := startNode(t, u, s.Addr, Options{}, []string{"NO-SUCH-COMMAND"})
		r := do(n, "main", "PING")
		if !errors.Is(r.Err(), ErrUnavailable) || !strings.Contains(r.Err().Error(), "on-connect: ERR unknown command") {
			t.Fatalf("PING = %q, %v; want unavailable because of on-connect", r.Raw(), r.Err())
		}
	})
	t.Run("empty", func(t *testing.T) {
		if _, err := NewNode(u, s.Addr, Options{}, []string{}); err == nil {
			t.Fatal("an empty on-connect command was accepted")
		}
	})
}
