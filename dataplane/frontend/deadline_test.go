package frontend

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/all"
	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/reload"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// TestStalledRedisTimesOutPerRequest stalls Redis (SIGSTOP) under a
// pipeline of 1,000 GETs that one read takes in, and checks that every
// reply is a timeout that arrives about one configured timeout after
// the client wrote it. The proxy serves such a pipeline in runs of
// maxRun commands; before deadlines ran from the read, each run waited
// a full timeout of its own and the last replies came four timeouts
// late.
func TestStalledRedisTimesOutPerRequest(t *testing.T) {
	const timeout = time.Second
	r := redistest.Start(t)
	h := startServer(t, DefaultLimits())
	pools := upstream.NewPools(upstream.Options{Timeout: timeout}, slog.New(slog.DiscardHandler))
	a := reload.NewApplier(all.Registry(), pools, &engine.Env{NodeID: "test"}, h.cur, nil)
	tree := &keywayv1.DomainTree{
		Version: "v1",
		Root:    &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "main"}}},
		Upstreams: []*keywayv1.Upstream{{Name: "main",
			Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: r.Addr}}}},
	}
	proxy := &keywayv1.ProxyConfig{Name: "proxy", Identity: &keywayv1.Identity{DefaultDomain: "default"}}
	if err := a.Apply([]*keywayv1.Domain{{Name: "default", Stable: tree}}, proxy, "v1"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pools.Close)
	t.Cleanup(func() { h.cur.Install(nil) })

	nc, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	rd := bufio.NewReaderSize(nc, 64<<10)
	// pipeline writes cmds at once and returns each reply with the time
	// it arrived, measured from the write.
	type reply struct {
		line string
		at   time.Duration
	}
	pipeline := func(cmds [][]string) []reply {
		t.Helper()
		var buf []byte
		for _, c := range cmds {
			args := make([][]byte, len(c))
			for i, a := range c {
				args[i] = []byte(a)
			}
			buf = resp.AppendCommand(buf, args)
		}
		_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
		start := time.Now()
		if _, err := nc.Write(buf); err != nil {
			t.Fatal(err)
		}
		out := make([]reply, len(cmds))
		for i := range out {
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("reply %d: %v", i, err)
			}
			out[i] = reply{strings.TrimSpace(line), time.Since(start)}
			if strings.HasPrefix(line, "$") && line != "$-1\r\n" {
				if _, err := rd.ReadString('\n'); err != nil {
					t.Fatal(err)
				}
			}
		}
		return out
	}
	// Grow the proxy's read buffer the way a pipelining client does (PING
	// is answered by the proxy), and check the upstream answers.
	pings := make([][]string, 20000)
	for i := range pings {
		pings[i] = []string{"PING"}
	}
	pipeline(pings)
	if got := pipeline([][]string{{"GET", "k"}}); got[0].line != "$-1" {
		t.Fatalf("GET before the stall = %q", got[0].line)
	}

	if err := r.Pause(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Resume() })
	gets := make([][]string, 1000) // ~24 KB: one read of a grown buffer, 4 runs
	for i := range gets {
		gets[i] = []string{"GET", fmt.Sprintf("k%03d", i)}
	}
	replies := pipeline(gets)
	// The bounds are the feature under test. A timeout cannot fire before
	// its deadline, which runs from the read, after the write; 1.5x
	// leaves room for a loaded 2-core machine and still fails the old
	// behaviour (up to 4x).
	lo, hi := timeout*9/10, timeout*3/2
	for i, rep := range replies {
		if !strings.HasPrefix(rep.line, "-") || !strings.Contains(rep.line, "within") {
			t.Fatalf("reply %d = %q, want a timeout error", i, rep.line)
		}
		if rep.at < lo || rep.at > hi {
			t.Fatalf("reply %d (%q) arrived after %v, want %v..%v", i, rep.line, rep.at, lo, hi)
		}
	}
	t.Logf("1000 timeouts between %v and %v", replies[0].at, replies[len(replies)-1].at)
}
