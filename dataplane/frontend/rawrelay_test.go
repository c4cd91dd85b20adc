package frontend

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/all"
	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/reload"
	"keyway.dev/dataplane/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// withAdminUpstream serves a "default" domain, compiled by the real
// registry, that sends to a real redis-server and may run the admin
// commands allow lists (["*"] is what keyway-proxy --upstream gives).
func withAdminUpstream(t testing.TB, allow []string) (*harness, *redistest.Server) {
	t.Helper()
	r := redistest.Start(t, "enable-debug-command yes", "repl-diskless-sync-delay 0")
	h := startServer(t, DefaultLimits())
	pools := upstream.NewPools(upstream.Options{}, slog.New(slog.DiscardHandler))
	a := reload.NewApplier(all.Registry(), pools, &engine.Env{NodeID: "test"}, h.cur, slog.New(slog.DiscardHandler))
	tree := &keywayv1.DomainTree{
		Version: "v1",
		Root:    &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "main"}}},
		Upstreams: []*keywayv1.Upstream{{Name: "main",
			Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: r.Addr}}}},
		AllowAdminCommands: allow,
	}
	proxy := &keywayv1.ProxyConfig{Name: "proxy", Identity: &keywayv1.Identity{DefaultDomain: "default"}}
	if err := a.Apply([]*keywayv1.Domain{{Name: "default", Stable: tree}}, proxy, "v1"); err != nil {
		t.Fatalf("apply: %v", err)
	}
	t.Cleanup(pools.Close)
	t.Cleanup(func() { h.cur.Install(nil) })
	return h, r
}

// syncStream sends SYNC on a fresh connection to addr and returns the
// connection's reader positioned after the RDB payload, and the payload.
func syncStream(t *testing.T, addr string) (net.Conn, *bufio.Reader, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write([]byte("SYNC\r\n")); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(c)
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("SYNC through %s: %v", addr, err)
		}
		if line == "\n" {
			continue // Redis's keepalive while it prepares the RDB
		}
		if !strings.HasPrefix(line, "$") {
			t.Fatalf("SYNC through %s: got %q, want the RDB bulk header", addr, line)
		}
		n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
		if err != nil {
			t.Fatalf("SYNC header %q: %v", line, err)
		}
		rdb := make([]byte, n)
		if _, err := io.ReadFull(rd, rdb); err != nil {
			t.Fatalf("RDB payload: %v", err)
		}
		return c, rd, rdb
	}
}

func redisCLI(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Skip("redis-cli not found (run make deps)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput()
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readUntil reads the stream until it holds want, within its deadline,
// and returns the last bytes read.
func readUntil(t *testing.T, rd *bufio.Reader, want string) string {
	t.Helper()
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(got, []byte(want)) {
		// Keep only a tail that may hold the start of want.
		if keep := len(want) + len(buf); len(got) > 2*keep {
			got = append(got[:0], got[len(got)-keep:]...)
		}
		n, err := rd.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("stream ended before %q: %v (last bytes %q)", want, err, got)
		}
	}
	return string(got)
}

// pipelines runs pipelines of INCRs through addr until stop closes and
// reports any reply that is not the one Redis gives, which is how one
// client's command on a shared connection breaks other clients.
func pipelines(t *testing.T, addr string, stop <-chan struct{}) func() {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	for w := range 4 {
		wg.Go(func() {
			rdb := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: 10 * time.Second})
			defer rdb.Close()
			ctx := context.Background()
			key := fmt.Sprintf("pipe:%d", w)
			want := int64(0)
			for i := 0; ; i++ {
				select {
				case <-stop:
					if i == 0 {
						continue // at least one round
					}
					return
				default:
				}
				cmds, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
					for range 20 {
						p.Incr(ctx, key)
					}
					return nil
				})
				if err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
					return
				}
				for _, c := range cmds {
					want++
					if got := c.(*redis.IntCmd).Val(); got != want {
						mu.Lock()
						errs = append(errs, fmt.Sprintf("%s: INCR = %d, want %d", key, got, want))
						mu.Unlock()
						return
					}
				}
			}
		})
	}
	return func() {
		wg.Wait()
		for _, e := range errs {
			t.Error(e)
		}
	}
}

// SYNC through a policy-less proxy is the replication stream exactly as
// Redis sends it: the same RDB, then every write as a command, while
// other clients' pipelines keep their replies.
func TestSyncRelaysReplicationStream(t *testing.T) {
	h, r := withAdminUpstream(t, []string{"*"})
	direct, _, want := syncStream(t, r.Addr)
	direct.Close()

	stop := make(chan struct{})
	wait := pipelines(t, h.addr, stop)
	c, rd, relayed := syncStream(t, h.addr)
	if len(relayed) < 9 || !bytes.Equal(relayed[:9], want[:9]) {
		t.Errorf("RDB header through the proxy = %q, direct %q", relayed[:min(9, len(relayed))], want[:min(9, len(want))])
	}
	close(stop)
	wait()
	rdb := redis.NewClient(&redis.Options{Addr: h.addr})
	defer rdb.Close()
	if err := rdb.Set(context.Background(), "relayed-key", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	// Redis propagates the command as the client spelled it.
	readUntil(t, rd, "$3\r\nset\r\n$11\r\nrelayed-key\r\n$1\r\nv\r\n")
}

// redis-cli --rdb (REPLCONF rdb-only, then SYNC) through the proxy
// writes the same kind of file it writes direct.
func TestRedisCliRDBThroughProxy(t *testing.T) {
	h, _ := withAdminUpstream(t, []string{"*"})
	rdb := redis.NewClient(&redis.Options{Addr: h.addr})
	defer rdb.Close()
	if err := rdb.Set(context.Background(), "in-the-dump", "yes", 0).Err(); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(h.addr)
	path := t.TempDir() + "/dump.rdb"
	out, err := redisCLI(t, "-h", host, "-p", port, "--rdb", path)
	if err != nil {
		t.Fatalf("redis-cli --rdb: %v\n%s", err, out)
	}
	dump := readFile(t, path)
	if !bytes.HasPrefix(dump, []byte("REDIS")) || !bytes.Contains(dump, []byte("in-the-dump")) {
		t.Errorf("dump = %q...", dump[:min(len(dump), 64)])
	}
}

// MONITOR through the proxy streams what the upstream runs, another
// client's SET among it.
func TestMonitorRelay(t *testing.T) {
	h, _ := withAdminUpstream(t, []string{"*"})
	mon := dialRaw(t, h.addr)
	if got := mon.cmd("MONITOR"); got != "+OK\r\n" {
		t.Fatalf("MONITOR = %q", got)
	}
	rdb := redis.NewClient(&redis.Options{Addr: h.addr})
	defer rdb.Close()
	if err := rdb.Set(context.Background(), "monitored", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	line := readUntil(t, mon.rd, `"monitored"`)
	if !strings.Contains(line, `"set" "monitored" "1"`) {
		t.Errorf("monitor stream = %q", line)
	}
}

// REPLICAOF and DEBUG run on a connection of their own: other clients'
// pipelines keep their replies, and no shared connection ever ran them.
func TestServerMutatingOnDedicatedConnection(t *testing.T) {
	h, r := withAdminUpstream(t, []string{"*"})
	stop := make(chan struct{})
	wait := pipelines(t, h.addr, stop)
	c := dialRaw(t, h.addr)
	for range 5 {
		if got := c.cmd("REPLICAOF", "NO", "ONE"); got != "+OK\r\n" {
			t.Fatalf("REPLICAOF NO ONE = %q", got)
		}
		if got := c.cmd("DEBUG", "SLEEP", "0"); got != "+OK\r\n" {
			t.Fatalf("DEBUG SLEEP 0 = %q", got)
		}
	}
	close(stop)
	wait()
	// The dedicated connection was reset on release; a shared one would
	// still show the command it last ran.
	list := r.Do("CLIENT", "LIST")
	for _, cmd := range []string{"cmd=replicaof", "cmd=debug"} {
		if strings.Contains(list, cmd) {
			t.Errorf("a connection's last command is %s:\n%s", cmd, list)
		}
	}
	if got := r.Do("INFO", "replication"); !strings.Contains(got, "role:master") {
		t.Errorf("INFO replication = %q", got)
	}
}

// SHUTDOWN ends the client's connection as Redis does, and the server.
func TestShutdownThroughProxy(t *testing.T) {
	h, r := withAdminUpstream(t, []string{"*"})
	c := dialRaw(t, h.addr)
	c.send("PING\r\nSHUTDOWN NOSAVE\r\n")
	if got := c.reply(); got != "+PONG\r\n" {
		t.Fatalf("PING = %q", got)
	}
	if !c.closed() {
		t.Errorf("the connection stayed open after SHUTDOWN")
	}
	if _, err := net.DialTimeout("tcp", r.Addr, time.Second); err == nil {
		t.Errorf("redis-server still accepts connections after SHUTDOWN")
	}
}

// A policy refuses admin commands it does not allow, in words that say
// how to allow them, and the server is untouched.
func TestAdminCommandsRefusedByPolicy(t *testing.T) {
	h, r := withAdminUpstream(t, []string{"REPLICAOF", "CLUSTER|FAILOVER"})
	c := dialRaw(t, h.addr)
	want := "-ERR keyway: SHUTDOWN is a server-mutating command; the policy does not allow it for workload domain \"default\" (allow it with domain(..., allow_admin_commands = [\"SHUTDOWN\"]))\r\n"
	if got := c.cmd("SHUTDOWN"); got != want {
		t.Errorf("SHUTDOWN = %q\nwant %q", got, want)
	}
	for _, args := range [][]string{{"SYNC"}, {"PSYNC", "?", "-1"}, {"MONITOR"}, {"DEBUG", "SLEEP", "0"}, {"SLAVEOF", "NO", "ONE"}, {"CLUSTER", "RESET"}, {"FAILOVER"}} {
		got := c.cmd(args...)
		if !strings.HasPrefix(got, "-ERR keyway: ") || !strings.Contains(got, "allow_admin_commands") {
			t.Errorf("%v = %q, want the policy's refusal", args, got)
		}
	}
	if got := c.cmd("REPLICAOF", "NO", "ONE"); got != "+OK\r\n" {
		t.Errorf("allowed REPLICAOF NO ONE = %q", got)
	}
	// A refusal inside a transaction aborts it, as Redis aborts one it
	// refused a command of.
	c.cmd("MULTI")
	if got := c.cmd("DEBUG", "SLEEP", "0"); !strings.HasPrefix(got, "-ERR keyway: DEBUG") {
		t.Errorf("DEBUG in MULTI = %q", got)
	}
	if got := c.cmd("EXEC"); !strings.HasPrefix(got, "-EXECABORT") {
		t.Errorf("EXEC = %q", got)
	}
	if got := r.Do("PING"); got != "+PONG" {
		t.Errorf("upstream PING = %q", got)
	}
	if got := c.cmd("GET", "k"); got != "$-1\r\n" {
		t.Errorf("GET after refusals = %q", got)
	}
}
