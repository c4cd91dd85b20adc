package frontend

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/answer"
	"keyway.dev/dataplane/infotext"
	"keyway.dev/dataplane/redistest"
)

// infoOf reads an INFO reply's text.
func infoOf(t *testing.T, raw string) *infotext.Info {
	t.Helper()
	text, _, ok := answer.InfoText([]byte(raw))
	if !ok {
		t.Fatalf("INFO reply %q is not a string", raw)
	}
	return infotext.Parse(text)
}

func infoField(t *testing.T, info *infotext.Info, section, key string) string {
	t.Helper()
	s := info.Section(section)
	if s == nil {
		t.Fatalf("INFO has no # %s section:\n%s", section, info)
	}
	v, ok := s.Get(key)
	if !ok {
		t.Fatalf("INFO # %s has no %s:\n%s", section, key, info)
	}
	return v
}

func sectionNames(info *infotext.Info) []string {
	var out []string
	for _, s := range info.Sections {
		out = append(out, s.Name)
	}
	return out
}

// TestInfoStandalone checks INFO through the proxy is the upstream's,
// with the proxy's clients and a # Keyway section, and that a section
// argument returns only that section.
func TestInfoStandalone(t *testing.T) {
	h, r := withRealUpstream(t)
	c := dialRaw(t, h.addr)
	c.cmd("SET", "a", "1")
	c.cmd("SET", "b", "1", "EX", "100")
	c.cmd("LPUSH", "a", "x") // WRONGTYPE, for errorstats

	info := infoOf(t, c.cmd("INFO"))
	for _, want := range []string{"Server", "Clients", "Memory", "Stats", "Cluster", "Keyspace", "Keyway"} {
		if info.Section(want) == nil {
			t.Fatalf("INFO lacks # %s: %v", want, sectionNames(info))
		}
	}
	if got := infoField(t, info, "Keyspace", "db0"); !strings.HasPrefix(got, "keys=2,expires=1,") {
		t.Fatalf("db0 = %q", got)
	}
	if got := infoField(t, info, "Server", "tcp_port"); got != strconv.Itoa(r.Port) {
		t.Fatalf("tcp_port = %q, want the upstream's %d", got, r.Port)
	}
	if got := infoField(t, info, "Cluster", "cluster_enabled"); got != "0" {
		t.Fatalf("cluster_enabled = %q", got)
	}
	if got := infoField(t, info, "Keyway", "keyway_proxy"); got != "1" {
		t.Fatalf("keyway_proxy = %q", got)
	}

	t.Run("clients are the proxy's", func(t *testing.T) {
		others := []*rawConn{dialRaw(t, h.addr), dialRaw(t, h.addr)}
		for _, o := range others {
			o.cmd("PING")
		}
		info := infoOf(t, c.cmd("INFO", "clients"))
		if got := infoField(t, info, "Clients", "connected_clients"); got != "3" {
			t.Fatalf("connected_clients = %q, want 3", got)
		}
		waiter := others[0]
		waiter.send("*3\r\n$5\r\nBLPOP\r\n$2\r\nbq\r\n$1\r\n0\r\n")
		harnessPoll(t, "blocked_clients:1", func() error {
			if got := infoField(t, infoOf(t, c.cmd("INFO", "clients")), "Clients", "blocked_clients"); got != "1" {
				return fmt.Errorf("blocked_clients = %q", got)
			}
			return nil
		})
		c.cmd("RPUSH", "bq", "x")
		if got := waiter.reply(); got != "*2\r\n$2\r\nbq\r\n$1\r\nx\r\n" {
			t.Fatalf("BLPOP = %q", got)
		}
		if got := infoField(t, infoOf(t, c.cmd("INFO", "clients")), "Clients", "blocked_clients"); got != "0" {
			t.Fatalf("blocked_clients after BLPOP returned = %q", got)
		}
	})

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"INFO", "keyspace"}, []string{"Keyspace"}},
		{[]string{"INFO", "errorstats"}, []string{"Errorstats"}},
		{[]string{"INFO", "KEYWAY"}, []string{"Keyway"}},
		{[]string{"INFO", "cluster"}, []string{"Cluster"}},
		{[]string{"INFO", "server", "keyspace"}, []string{"Server", "Keyspace"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			info := infoOf(t, c.cmd(tc.args...))
			if got := sectionNames(info); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("sections %v, want %v:\n%s", got, tc.want, info)
			}
		})
	}
	if got := infoField(t, infoOf(t, c.cmd("INFO", "errorstats")), "Errorstats", "errorstat_WRONGTYPE"); got != "count=1" {
		t.Fatalf("errorstat_WRONGTYPE = %q", got)
	}
	commandstats := infoOf(t, c.cmd("INFO", "commandstats")).Section("Commandstats")
	if v, ok := commandstats.Get("cmdstat_set"); !ok || !strings.HasPrefix(v, "calls=2,") {
		t.Fatalf("cmdstat_set = %q", v)
	}
	if everything := infoOf(t, c.cmd("INFO", "everything")); everything.Section("Commandstats") == nil || everything.Section("Keyway") == nil {
		t.Fatalf("INFO everything: %v", sectionNames(everything))
	}

	t.Run("upstream down: the proxy's own sections", func(t *testing.T) {
		r.Stop()
		info := infoOf(t, c.cmd("INFO"))
		if got := strings.Join(sectionNames(info), ","); got != "Server,Clients,Cluster,Keyway" {
			t.Fatalf("sections %s:\n%s", got, info)
		}
		if got := infoField(t, info, "Clients", "connected_clients"); got == "" {
			t.Fatal("no connected_clients")
		}
	})
}

// TestInfoRESP3 checks a RESP3 client gets INFO as Redis sends it, a
// verbatim string, both the upstream's and the proxy's own sections.
func TestInfoRESP3(t *testing.T) {
	h, _ := withRealUpstream(t)
	c := dialRaw(t, h.addr)
	c.cmd("HELLO", "3")
	for _, args := range [][]string{{"INFO"}, {"INFO", "keyspace"}, {"INFO", "keyway"}} {
		if got := c.cmd(args...); !strings.HasPrefix(got, "=") || !strings.Contains(got, "\r\ntxt:# ") {
			t.Fatalf("%v = %.60q, want a verbatim string", args, got)
		}
	}
}

// TestInfoRefusedByPolicy: a tree that refuses INFO still gets an
// answer.
func TestInfoRefusedByPolicy(t *testing.T) {
	h := startServer(t, DefaultLimits())
	refuse := engine.Func(func(_ context.Context, b engine.Batch) {
		for _, r := range b {
			r.Fail(engine.KindRefused, fmt.Errorf("keyway: refused by policy"))
		}
	})
	install(h.cur, "v1", map[string]engine.Engine{"default": refuse}, emulating(3))
	c := dialRaw(t, h.addr)
	info := infoOf(t, c.cmd("INFO"))
	if got := infoField(t, info, "Cluster", "cluster_enabled"); got != "1" {
		t.Fatalf("cluster_enabled = %q on an emulated-cluster listener", got)
	}
	if got := infoField(t, info, "Server", "redis_mode"); got != "cluster" {
		t.Fatalf("redis_mode = %q", got)
	}
	if got := infoField(t, info, "Keyway", "policy_version"); got != "v1" {
		t.Fatalf("policy_version = %q", got)
	}
}

// TestInfoCluster runs INFO and PUBLISH through an emulated-cluster
// listener over a real Redis Cluster upstream.
func TestInfoCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 0)
	_, addrs := emulatedCluster(t, cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer cc.Close()
	for i := range 50 {
		if err := cc.Set(ctx, "k"+strconv.Itoa(i), "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	sum := 0
	for _, p := range cl.Primaries() {
		n, _ := strconv.Atoi(strings.TrimPrefix(p.Do("DBSIZE"), ":"))
		sum += n
	}
	c := dialRaw(t, addrs[0])
	info := infoOf(t, c.cmd("INFO"))
	if got := infoField(t, info, "Cluster", "cluster_enabled"); got != "1" {
		t.Fatalf("cluster_enabled = %q", got)
	}
	if got := infoField(t, info, "Keyspace", "db0"); !strings.HasPrefix(got, fmt.Sprintf("keys=%d,", sum)) {
		t.Fatalf("db0 = %q, want keys=%d (the primaries' DBSIZE)", got, sum)
	}

	t.Run("publish counts the subscribers through the proxy", func(t *testing.T) {
		const n = 4
		for i := range n {
			sub := redis.NewClient(&redis.Options{Addr: addrs[i%len(addrs)]})
			defer sub.Close()
			ps := sub.Subscribe(ctx, "info-news")
			defer ps.Close()
			if _, err := ps.Receive(ctx); err != nil {
				t.Fatal(err)
			}
		}
		pub := redis.NewClient(&redis.Options{Addr: addrs[1]})
		defer pub.Close()
		for range 3 { // whichever primary the publisher lands on
			if got, err := pub.Publish(ctx, "info-news", "hi").Result(); err != nil || got != n {
				t.Fatalf("PUBLISH = %d, %v; want %d", got, err, n)
			}
		}
	})
}

// harnessPoll waits for cond, failing the test after 10 seconds.
func harnessPoll(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
