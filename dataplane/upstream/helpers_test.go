package upstream

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/resp"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// req builds a request as the server would.
func req(args ...string) *engine.Request {
	r := &engine.Request{}
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	r.Cmd.Parse(b)
	return r
}

// bulk is the RESP encoding of s as a bulk string.
func bulk(s string) string { return "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n" }

func standalone(name, addr string) *keywayv1.Upstream {
	return &keywayv1.Upstream{
		Name: name,
		Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: addr}},
	}
}

// startNode returns a node for addr closed when the test ends.
func startNode(t testing.TB, u *keywayv1.Upstream, addr string, opts Options, onConnect ...[]string) *Node {
	t.Helper()
	n, err := NewNode(u, addr, opts, onConnect...)
	if err != nil {
		t.Fatalf("NewNode: %v", err)
	}
	t.Cleanup(n.Close)
	return n
}

// do serves one request through n and returns it.
func do(n *Node, name string, args ...string) *engine.Request {
	r := req(args...)
	n.Serve(context.Background(), name, engine.Batch{r})
	return r
}

// eventually polls cond until it holds; the bound only keeps a broken
// build from hanging, it is not what the test measures.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// clients counts the connections redis has, besides the one asking.
func clients(t *testing.T, s *redistest.Server) int {
	t.Helper()
	list := s.Do("CLIENT", "LIST")
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		if line != "" && !strings.Contains(line, "cmd=client|list") {
			n++
		}
	}
	return n
}

// restart runs redis-server again with the config and port s had, after
// s.Stop; it returns a func that kills the new process.
func restart(t *testing.T, s *redistest.Server) func() {
	t.Helper()
	cmd := redistest.Command("redis-server", filepath.Join(s.Dir, "redis.conf"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("restart redis-server: %v", err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(stop)
	eventually(t, "redis to restart on "+s.Addr, func() bool {
		c, err := net.Dial("tcp", s.Addr)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write(resp.AppendCommand(nil, [][]byte{[]byte("PING")})); err != nil {
			return false
		}
		buf := make([]byte, 7)
		n, _ := c.Read(buf)
		return string(buf[:n]) == "+PONG\r\n"
	})
	return stop
}
