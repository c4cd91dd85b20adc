package integration

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/redistest"
	"keyway.dev/integration/harness"
)

// TestAdminCommands drives the two keyway-proxy modes: with --upstream
// the proxy stands in for the server, so MONITOR streams and REPLICAOF
// runs; with a policy, a domain runs only the admin commands it allows.
func TestAdminCommands(t *testing.T) {
	r := redistest.Start(t)
	bare := harness.StartProxy(t, "bare", "", "--upstream", r.Addr)
	path := harness.WritePolicy(t, map[string]string{"main.star": fmt.Sprintf(`
main = redis("main", %q)
domain("default", main, allow_admin_commands = ["MONITOR"])
`, r.Addr)})
	governed := harness.StartProxy(t, "governed", "", "--policy", path)
	for _, p := range []*harness.Proxy{bare, governed} {
		harness.Eventually(t, 30*time.Second, "proxy ready", p.Ready)
	}
	ctx := context.Background()

	t.Run("upstream/monitor", func(t *testing.T) { monitorSeesSet(t, bare.Addr, "bare-key") })
	t.Run("policy/monitor-allowed", func(t *testing.T) { monitorSeesSet(t, governed.Addr, "governed-key") })
	t.Run("upstream/replicaof", func(t *testing.T) {
		rdb := redis.NewClient(&redis.Options{Addr: bare.Addr})
		defer rdb.Close()
		if err := rdb.Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
			t.Fatalf("REPLICAOF NO ONE: %v", err)
		}
		if err := rdb.Set(ctx, "after", "1", 0).Err(); err != nil {
			t.Fatalf("SET after REPLICAOF: %v", err)
		}
	})
	t.Run("policy/refused", func(t *testing.T) {
		rdb := redis.NewClient(&redis.Options{Addr: governed.Addr})
		defer rdb.Close()
		for _, cmd := range [][]any{{"SHUTDOWN", "NOSAVE"}, {"REPLICAOF", "NO", "ONE"}, {"SYNC"}} {
			err := rdb.Do(ctx, cmd...).Err()
			if err == nil || !strings.Contains(err.Error(), "the policy does not allow it for workload domain \"default\"") {
				t.Errorf("%v: %v, want the policy's refusal", cmd, err)
			}
		}
		if got := r.Do("PING"); got != "+PONG" {
			t.Errorf("redis-server after the refusals: %q", got)
		}
	})
}

// monitorSeesSet starts MONITOR through addr and requires another
// client's SET of key to appear in the stream.
func monitorSeesSet(t *testing.T, addr, key string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	rd := bufio.NewReader(c)
	if _, err := c.Write([]byte("MONITOR\r\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := rd.ReadString('\n'); err != nil || line != "+OK\r\n" {
		t.Fatalf("MONITOR = %q, %v", line, err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	if err := rdb.Set(context.Background(), key, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("MONITOR stream ended before the SET of %s: %v", key, err)
		}
		if strings.Contains(line, `"set" "`+key+`"`) {
			return
		}
	}
}
