package nearcache

import (
	"strconv"
	"strings"
	"testing"

	"keyway.dev/dataplane/cluster"
	"keyway.dev/dataplane/redistest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// TestClusterSlotMigration moves a cached key's slot to another primary
// the way resharding does (SETSLOT IMPORTING/MIGRATING, MIGRATE, SETSLOT
// NODE) and checks the cache follows: the migration drops the entry, and
// writes on the new owner invalidate what is cached from it.
func TestClusterSlotMigration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	c := redistest.StartCluster(t, 3, 0)
	p := newProxy(t, clusterUp(c.Seeds()), &keywayv1.NearCache{})
	const key = "moving"
	slot := strconv.Itoa(cluster.Slot([]byte(key)))
	var from, to *redistest.Server
	for _, s := range c.Primaries() {
		if strings.HasPrefix(rawDo(t, s.Addr, "GET", key), "-MOVED") {
			if to == nil {
				to = s
			}
		} else {
			from = s
		}
	}
	if from == nil || to == nil {
		t.Fatalf("owner %v, other %v", from, to)
	}
	if got := rawDo(t, from.Addr, "SET", key, "v1"); got != "+OK" {
		t.Fatalf("SET: %s", got)
	}
	p.sync()
	p.do("GET", key)
	if p.do("GET", key) != bulk("v1") || p.stat("hits") != 1 {
		t.Fatalf("not cached before the migration (hits %d)", p.stat("hits"))
	}

	fromID, toID := c.ID(from), c.ID(to)
	for _, step := range []struct {
		s    *redistest.Server
		args []string
	}{
		{to, []string{"CLUSTER", "SETSLOT", slot, "IMPORTING", fromID}},
		{from, []string{"CLUSTER", "SETSLOT", slot, "MIGRATING", toID}},
		{from, []string{"MIGRATE", "127.0.0.1", strconv.Itoa(to.Port), "", "0", "5000", "KEYS", key}},
		{to, []string{"CLUSTER", "SETSLOT", slot, "NODE", toID}},
		{from, []string{"CLUSTER", "SETSLOT", slot, "NODE", toID}},
	} {
		if got := rawDo(t, step.s.Addr, step.args...); got != "+OK" {
			t.Fatalf("%v on %s: %s", step.args, step.s.Addr, got)
		}
	}
	p.sync()
	if e := p.entry("GET", key); e != nil {
		t.Error("the entry survived its key's migration")
	}
	// Read through the proxy (MOVED, then the new owner) and cache it.
	waitFor(t, "the proxy to read from the new owner", func() bool { return p.do("GET", key) == bulk("v1") })
	p.sync()
	p.do("GET", key)
	if p.entry("GET", key) == nil {
		t.Fatal("not cached from the new owner")
	}
	if got := rawDo(t, to.Addr, "SET", key, "v2"); got != "+OK" {
		t.Fatalf("SET on the new owner: %s", got)
	}
	p.sync()
	if got := p.do("GET", key); got != bulk("v2") {
		t.Errorf("after a write on the new owner: %q, want v2", got)
	}
}
