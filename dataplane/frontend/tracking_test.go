package frontend

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/redistest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// trackingTarget is a proxy in front of one kind of upstream, with a
// client that writes to that upstream directly, as another application
// would.
type trackingTarget struct {
	name   string
	addr   string
	writer redis.UniversalClient
	// keys are keys that live on different nodes when there are several.
	keys []string
}

func trackingTargets(t *testing.T) []trackingTarget {
	r := redistest.Start(t)
	h := withPolicy(t, forward("main"), standalone("main", r))
	w := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { w.Close() })

	cl := redistest.StartCluster(t, 3, 0)
	hc := withPolicy(t, forward("cache"), &keywayv1.Upstream{Name: "cache",
		Kind: &keywayv1.Upstream_Cluster{Cluster: &keywayv1.Cluster{Seeds: cl.Seeds()}}})
	wc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Seeds()})
	t.Cleanup(func() { wc.Close() })
	// "a", "b" and "c" hash to slots 15495, 3300 and 7365: three nodes.
	return []trackingTarget{
		{name: "standalone", addr: h.addr, writer: w, keys: []string{"a", "b", "c"}},
		{name: "cluster", addr: hc.addr, writer: wc, keys: []string{"a", "b", "c"}},
	}
}

// expectFrame reads the next frame on c, which must come without c
// sending anything: an invalidation Redis pushed.
func expectFrame(t *testing.T, c *rawConn, want string) {
	t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got := c.reply(); got != want {
		t.Fatalf("pushed %q, want %q", got, want)
	}
}

func invalidate(keys ...string) string {
	s := ">2\r\n$10\r\ninvalidate\r\n*" + strconv.Itoa(len(keys)) + "\r\n"
	for _, k := range keys {
		s += fmt.Sprintf("$%d\r\n%s\r\n", len(k), k)
	}
	return s
}

func TestTracking(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tg := range trackingTargets(t) {
		t.Run(tg.name+"/resp3 push", func(t *testing.T) {
			c := dialRaw(t, tg.addr)
			c.cmd("HELLO", "3")
			if got := c.cmd("CLIENT", "TRACKING", "ON"); got != "+OK\r\n" {
				t.Fatalf("CLIENT TRACKING ON = %q", got)
			}
			for _, k := range tg.keys {
				if got := c.cmd("GET", k); got != "_\r\n" {
					t.Fatalf("GET %s = %q", k, got)
				}
			}
			for _, k := range tg.keys {
				if err := tg.writer.Set(ctx, k, "new", 0).Err(); err != nil {
					t.Fatal(err)
				}
				expectFrame(t, c, invalidate(k))
			}
			// The key is tracked again once read again, and the reply
			// comes after any push already sent.
			if got := c.cmd("GET", "a"); got != "$3\r\nnew\r\n" {
				t.Fatalf("GET a = %q", got)
			}
			if err := tg.writer.Del(ctx, "a").Err(); err != nil {
				t.Fatal(err)
			}
			expectFrame(t, c, invalidate("a"))
			if got := c.cmd("CLIENT", "TRACKING", "OFF"); got != "+OK\r\n" {
				t.Fatalf("CLIENT TRACKING OFF = %q", got)
			}
			if got := c.cmd("GET", "a"); got != "_\r\n" {
				t.Fatalf("GET a after OFF = %q", got)
			}
		})

		t.Run(tg.name+"/redirect to a resp2 subscriber", func(t *testing.T) {
			a := dialRaw(t, tg.addr)
			id := strings.TrimSuffix(strings.TrimPrefix(a.cmd("CLIENT", "ID"), ":"), "\r\n")
			if got := a.cmd("SUBSCRIBE", "__redis__:invalidate"); !strings.HasPrefix(got, "*3\r\n$9\r\nsubscribe\r\n") {
				t.Fatalf("SUBSCRIBE = %q", got)
			}
			b := dialRaw(t, tg.addr)
			if got := b.cmd("CLIENT", "TRACKING", "ON", "REDIRECT", id); got != "+OK\r\n" {
				t.Fatalf("CLIENT TRACKING ON REDIRECT = %q", got)
			}
			if got := b.cmd("CLIENT", "GETREDIR"); got != ":"+id+"\r\n" {
				t.Fatalf("GETREDIR = %q, want %s", got, id)
			}
			for _, k := range tg.keys {
				b.cmd("GET", k)
			}
			for _, k := range tg.keys {
				if err := tg.writer.Set(ctx, k, "v2", 0).Err(); err != nil {
					t.Fatal(err)
				}
				expectFrame(t, a, fmt.Sprintf("*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$%d\r\n%s\r\n", len(k), k))
			}
		})

		t.Run(tg.name+"/redirect to a resp3 client", func(t *testing.T) {
			x := dialRaw(t, tg.addr)
			x.cmd("HELLO", "3")
			id := strings.TrimSuffix(strings.TrimPrefix(x.cmd("CLIENT", "ID"), ":"), "\r\n")
			// A RESP3 target hears pushes while it tracks (which gives
			// it the socket writer the proxy delivers through).
			x.cmd("CLIENT", "TRACKING", "ON")
			b := dialRaw(t, tg.addr)
			if got := b.cmd("CLIENT", "TRACKING", "ON", "REDIRECT", id); got != "+OK\r\n" {
				t.Fatalf("CLIENT TRACKING ON REDIRECT = %q", got)
			}
			b.cmd("GET", "b")
			if err := tg.writer.Set(ctx, "b", "v3", 0).Err(); err != nil {
				t.Fatal(err)
			}
			expectFrame(t, x, invalidate("b"))
		})

		t.Run(tg.name+"/bcast", func(t *testing.T) {
			c := dialRaw(t, tg.addr)
			c.cmd("HELLO", "3")
			if got := c.cmd("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:"); got != "+OK\r\n" {
				t.Fatalf("BCAST = %q", got)
			}
			c.cmd("GET", "user:{a}")
			if err := tg.writer.Set(ctx, "other:{a}", "x", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if err := tg.writer.Set(ctx, "user:{a}", "x", 0).Err(); err != nil {
				t.Fatal(err)
			}
			expectFrame(t, c, invalidate("user:{a}"))
		})

		t.Run(tg.name+"/optin", func(t *testing.T) {
			c := dialRaw(t, tg.addr)
			c.cmd("HELLO", "3")
			if got := c.cmd("CLIENT", "TRACKING", "ON", "OPTIN"); got != "+OK\r\n" {
				t.Fatalf("OPTIN = %q", got)
			}
			c.cmd("GET", "c") // not tracked: no CACHING yes before it
			if got := c.cmd("CLIENT", "CACHING", "YES"); got != "+OK\r\n" {
				t.Fatalf("CACHING YES = %q", got)
			}
			c.cmd("GET", "a")
			if err := tg.writer.Set(ctx, "c", "x", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if err := tg.writer.Set(ctx, "a", "x", 0).Err(); err != nil {
				t.Fatal(err)
			}
			expectFrame(t, c, invalidate("a"))
		})

		t.Run(tg.name+"/refusals are redis's", func(t *testing.T) {
			c := dialRaw(t, tg.addr)
			if got := c.cmd("CLIENT", "TRACKING", "ON", "REDIRECT", "999999"); got != "-ERR The client ID you want redirect to does not exist\r\n" {
				t.Fatalf("bad redirect = %q", got)
			}
			if got := c.cmd("CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"); got != "-ERR You can't specify both OPTIN mode and OPTOUT mode\r\n" {
				t.Fatalf("OPTIN OPTOUT = %q", got)
			}
			if got := c.cmd("CLIENT", "CACHING", "YES"); got != "-ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.\r\n" {
				t.Fatalf("CACHING without tracking = %q", got)
			}
			if got := c.cmd("CLIENT", "GETREDIR"); got != ":-1\r\n" {
				t.Fatalf("GETREDIR off = %q", got)
			}
		})
	}
}

// TestTrackingInfoMatchesRedis compares CLIENT TRACKINGINFO and GETREDIR
// with Redis's bytes in both protocols.
func TestTrackingInfoMatchesRedis(t *testing.T) {
	r := redistest.Start(t)
	h := withPolicy(t, forward("main"), standalone("main", r))
	for _, proto := range []string{"2", "3"} {
		direct, proxy := dialRaw(t, r.Addr), dialRaw(t, h.addr)
		for _, args := range [][]string{
			{"HELLO", proto},
			{"CLIENT", "TRACKINGINFO"},
			{"CLIENT", "GETREDIR"},
			{"CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "p:", "NOLOOP"},
			{"CLIENT", "TRACKINGINFO"},
			{"CLIENT", "GETREDIR"},
			{"CLIENT", "TRACKING", "OFF"},
			{"CLIENT", "TRACKING", "ON", "OPTOUT"},
			{"CLIENT", "CACHING", "NO"},
			{"CLIENT", "TRACKINGINFO"},
			{"CLIENT", "TRACKING", "OFF"},
			{"CLIENT", "TRACKINGINFO"},
		} {
			want, got := direct.cmd(args...), proxy.cmd(args...)
			if args[0] == "HELLO" {
				continue
			}
			if got != want {
				t.Fatalf("resp%s %v: proxy %q, redis %q", proto, args, got, want)
			}
		}
	}
}

// TestTrackingGapFlushes drops a tracking connection under the client:
// Redis forgets what it tracked there, so the client must flush.
func TestTrackingGapFlushes(t *testing.T) {
	r := redistest.Start(t)
	h := withPolicy(t, forward("main"), standalone("main", r))
	c := dialRaw(t, h.addr)
	c.cmd("HELLO", "3")
	c.cmd("CLIENT", "TRACKING", "ON")
	c.cmd("GET", "k")
	admin := dialRaw(t, r.Addr)
	ids := regexp.MustCompile(`id=(\d+) [^\n]*flags=t`).FindAllStringSubmatch(admin.cmd("CLIENT", "LIST"), -1)
	if len(ids) != 1 {
		t.Fatalf("tracking connections on redis: %v", ids)
	}
	if got := admin.cmd("CLIENT", "KILL", "ID", ids[0][1]); got != ":1\r\n" {
		t.Fatalf("CLIENT KILL = %q", got)
	}
	expectFrame(t, c, ">2\r\n$10\r\ninvalidate\r\n_\r\n")
	// The next command opens a new tracking connection.
	if got := c.cmd("GET", "k"); got != "_\r\n" {
		t.Fatalf("GET after the gap = %q", got)
	}
	admin.cmd("SET", "k", "v")
	expectFrame(t, c, invalidate("k"))
}

// TestTrackingFollowsHello switches a tracking client from RESP2 to
// RESP3: its reads are tracked again on connections in the new protocol
// and the invalidations arrive as pushes.
func TestTrackingFollowsHello(t *testing.T) {
	r := redistest.Start(t)
	h := withPolicy(t, forward("main"), standalone("main", r))
	c := dialRaw(t, h.addr)
	if got := c.cmd("CLIENT", "TRACKING", "ON"); got != "+OK\r\n" {
		t.Fatalf("CLIENT TRACKING ON = %q", got)
	}
	if got := c.cmd("GET", "k"); got != "$-1\r\n" {
		t.Fatalf("GET in RESP2 = %q", got)
	}
	if got := c.cmd("HELLO", "3"); got[0] != '%' {
		t.Fatalf("HELLO 3 = %q", got)
	}
	if got := c.cmd("GET", "k"); got != "_\r\n" {
		t.Fatalf("GET in RESP3 = %q", got)
	}
	dialRaw(t, r.Addr).cmd("SET", "k", "v")
	expectFrame(t, c, invalidate("k"))
}
