package upstream

import (
	"strings"
	"testing"
	"time"

	"keyway.dev/dataplane/redistest"
)

// TestBusyConnectionAvoided runs a script that never ends on one of the
// node's two shared connections. Redis answers its other clients BUSY at
// once while the script runs; the proxy's other callers must get that
// answer too, not wait behind the script on its connection until their
// deadline.
func TestBusyConnectionAvoided(t *testing.T) {
	r := redistest.Start(t)
	if got := r.Do("CONFIG", "SET", "busy-reply-threshold", "10"); got != "+OK" {
		t.Fatalf("CONFIG SET = %q", got)
	}
	n := startNode(t, standalone("main", r.Addr), r.Addr, Options{Connections: 2, Timeout: 30 * time.Second})
	if got := do(n, "main", "SET", "k", "v").Raw(); string(got) != "+OK\r\n" {
		t.Fatalf("SET = %q", got)
	}
	script := make(chan string, 1)
	go func() { script <- string(do(n, "main", "EVAL", "while true do end", "0").Raw()) }()
	eventually(t, "redis busy with the script", func() bool {
		return strings.HasPrefix(r.Do("PING"), "-BUSY")
	})
	for i := range 10 {
		got := string(do(n, "main", "GET", "k").Raw())
		if !strings.HasPrefix(got, "-BUSY") {
			t.Fatalf("GET %d while the script runs = %q, want Redis's BUSY", i, got)
		}
	}
	if got := r.Do("SCRIPT", "KILL"); got != "+OK" {
		t.Fatalf("SCRIPT KILL = %q", got)
	}
	if got := <-script; !strings.Contains(got, "Script killed") {
		t.Fatalf("the script's reply = %q", got)
	}
	if got := string(do(n, "main", "GET", "k").Raw()); got != bulk("v") {
		t.Fatalf("GET after the script = %q", got)
	}
}
