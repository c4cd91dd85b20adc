package frontend

import (
	"strconv"
	"strings"
	"testing"

	"keyway.dev/dataplane/redistest"
)

// TestWaitCountsTheClientsWrites runs WAIT through the proxy against a
// primary with one replica. The client's writes go over shared
// connections, yet WAIT must count only replicas that acknowledged them:
// with the replica frozen, a write is not acknowledged and WAIT answers 0
// at its timeout, as it does directly; with the replica running, 1.
func TestWaitCountsTheClientsWrites(t *testing.T) {
	m := redistest.Start(t)
	rep := redistest.Start(t, "replicaof 127.0.0.1 "+strconv.Itoa(m.Port))
	waitFor(t, "replica linked", func() error {
		if info := m.Do("INFO", "replication"); !strings.Contains(info, "connected_slaves:1") || !strings.Contains(info, "state=online") {
			return errString("master: " + info)
		}
		return nil
	})
	h := withPolicy(t, forward("main"), standalone("main", m))
	c := dialRaw(t, h.addr)
	if got := c.cmd("SET", "k", "1"); got != "+OK\r\n" {
		t.Fatalf("SET = %q", got)
	}
	if got := c.cmd("WAIT", "1", "5000"); got != ":1\r\n" {
		t.Fatalf("WAIT with the replica running = %q", got)
	}
	if err := rep.Pause(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rep.Resume() }()
	if got := c.cmd("SET", "k", "2"); got != "+OK\r\n" {
		t.Fatalf("SET = %q", got)
	}
	if got := c.cmd("WAIT", "1", "300"); got != ":0\r\n" {
		t.Fatalf("WAIT with the replica frozen = %q, want :0 (the write is not acknowledged)", got)
	}
	if err := rep.Resume(); err != nil {
		t.Fatal(err)
	}
	if got := c.cmd("WAIT", "1", "10000"); got != ":1\r\n" {
		t.Fatalf("WAIT after the replica resumed = %q", got)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
