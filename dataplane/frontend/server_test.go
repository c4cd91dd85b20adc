package frontend

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/redistest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func TestPipelineAnsweredInOrder(t *testing.T) {
	h, _ := withRedis(t, DefaultLimits())
	c := dialRaw(t, h.addr)
	// Forwarded and local commands interleaved in one write.
	c.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n1\r\n" +
		"*1\r\n$4\r\nPING\r\n" +
		"*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n" +
		"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n" +
		"*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n" +
		"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n" +
		"*1\r\n$6\r\nNOSUCH\r\n" +
		"*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n")
	want := []string{"+OK\r\n", "+PONG\r\n", ":2\r\n", "$2\r\nhi\r\n", ":3\r\n", "$1\r\n3\r\n",
		"-ERR unknown command 'NOSUCH', with args beginning with: \r\n", ":4\r\n"}
	for i, w := range want {
		if got := c.reply(); got != w {
			t.Fatalf("reply %d = %q, want %q", i, got, w)
		}
	}
}

func TestGoRedisPipeline(t *testing.T) {
	h, _ := withRedis(t, DefaultLimits())
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: h.addr, ClientName: "app-1"})
	t.Cleanup(func() { rdb.Close() })
	pipe := rdb.Pipeline()
	var incrs []*redis.IntCmd
	for range 16 {
		incrs = append(incrs, pipe.Incr(ctx, "counter"))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	for i, cmd := range incrs {
		if cmd.Val() != int64(i+1) {
			t.Fatalf("incr %d = %d", i, cmd.Val())
		}
	}
	if name, err := rdb.ClientGetName(ctx).Result(); err != nil || name != "app-1" {
		t.Fatalf("client getname = %q, %v", name, err)
	}
}

func TestTryAgainBeforePolicy(t *testing.T) {
	h := startServer(t, DefaultLimits())
	c := dialRaw(t, h.addr)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"forwarded", []string{"GET", "k"}, "-TRYAGAIN keyway: no policy received yet\r\n"},
		{"local", []string{"PING"}, "+PONG\r\n"},
		{"auth", []string{"AUTH", "u", "p"}, "-TRYAGAIN keyway: no policy received yet\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.cmd(tc.args...); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	if h.srv.Ready() {
		t.Fatal("ready before a policy")
	}
}

// TestRepliesMatchRedis sends each command to a real redis-server and to
// the proxy and compares the bytes.
func TestRepliesMatchRedis(t *testing.T) {
	h, _ := withRedis(t, DefaultLimits())
	r := redistest.Start(t, "databases 1")
	direct := dialRaw(t, r.Addr)
	proxy := dialRaw(t, h.addr)
	tests := [][]string{
		{"PING"},
		{"PING", "hello"},
		{"PING", "a", "b"},
		{"ECHO", "x y"},
		{"ECHO"},
		{"SELECT", "0"},
		{"SELECT", "1"}, // redis runs with one database, as the proxy offers
		{"SELECT", "x"},
		{"AUTH", "secret"},
		{"AUTH", "nobody", "secret"},
		{"AUTH", "a", "b", "c"},
		{"HELLO", "x"},
		{"HELLO", "1"},
		{"HELLO", "2", "BOGUS"},
		{"CLIENT"},
		{"CLIENT", "GETNAME"},
		{"CLIENT", "SETNAME", "a b"},
		{"CLIENT", "SETNAME", "worker-7"},
		{"CLIENT", "GETNAME"},
		{"CLIENT", "SETNAME"},
		{"CLIENT", "BOGUS"},
		{"CLIENT", "NO-EVICT", "on"},
		{"COMMAND", "COUNT"},
		{"COMMAND", "BOGUS"},
		{"COMMAND", "INFO", "nosuch"},
		{"COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"},
		{"NOSUCH", "a", "b"},
		{"GET"},
		{"GET", "a", "b"},
		{"CONFIG", "BOGUS"},
		{"CONFIG"},
		{"INFO", "nosuch"},
		{"QUIT"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			want, got := direct.cmd(args...), proxy.cmd(args...)
			if got != want {
				t.Fatalf("proxy %q, redis %q", got, want)
			}
		})
	}
}

func TestHelloMatchesRedis(t *testing.T) {
	h, r := withRedis(t, DefaultLimits())
	// Version and connection id legitimately differ.
	norm := regexp.MustCompile(`\$7\r\nversion\r\n\$\d+\r\n[^\r]*\r\n|\$2\r\nid\r\n:\d+\r\n`)
	for _, args := range [][]string{{"HELLO"}, {"HELLO", "2"}, {"HELLO", "2", "SETNAME", "x"}, {"HELLO", "3"}, {"HELLO", "3", "SETNAME", "y"}, {"HELLO", "4"}, {"HELLO", "0"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			want := dialRaw(t, r.Addr).cmd(args...)
			got := dialRaw(t, h.addr).cmd(args...)
			if norm.ReplaceAllString(got, "") != norm.ReplaceAllString(want, "") {
				t.Fatalf("proxy %q, redis %q", got, want)
			}
		})
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// domainEngine answers every request with the name of its domain.
func domainEngine(name string) engine.Engine {
	reply := []byte(fmt.Sprintf("$%d\r\n%s\r\n", len(name), name))
	return engine.Func(func(_ context.Context, b engine.Batch) {
		for _, r := range b {
			r.Reply(reply)
		}
	})
}

func TestAuthMatchesRedis(t *testing.T) {
	h, r := withRedis(t, DefaultLimits())
	r.Do("ACL", "SETUSER", "alice", "on", ">secret", "~*", "+@all")
	install(h.cur, "v2", map[string]engine.Engine{"default": domainEngine("default")}, &keywayv1.ProxyConfig{
		Identity: &keywayv1.Identity{DefaultDomain: "default", Users: []*keywayv1.User{{Name: "alice", PasswordSha256: []string{sha("secret")}}}},
	})
	direct, proxy := dialRaw(t, r.Addr), dialRaw(t, h.addr)
	for _, args := range [][]string{
		{"AUTH", "alice", "wrong"},
		{"AUTH", "bob", "secret"},
		{"AUTH", "alice", "secret"},
		{"HELLO", "2", "AUTH", "alice", "nope"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			want, got := direct.cmd(args...), proxy.cmd(args...)
			if got != want {
				t.Fatalf("proxy %q, redis %q", got, want)
			}
		})
	}
}

func TestIdentity(t *testing.T) {
	h := startServer(t, DefaultLimits())
	roots := map[string]engine.Engine{}
	for _, d := range []string{"default", "payments", "search", "search-batch", "edge"} {
		roots[d] = domainEngine(d)
	}
	install(h.cur, "v1", roots, &keywayv1.ProxyConfig{
		Identity: &keywayv1.Identity{
			DefaultDomain: "default",
			Users:         []*keywayv1.User{{Name: "pay", PasswordSha256: []string{sha("old"), sha("new")}, Domain: "payments"}},
			ClientNames: []*keywayv1.NameRule{
				{Match: "search-", Domain: "search"},
				{Match: "search-batch-", Domain: "search-batch"},
			},
		},
		Listeners: []*keywayv1.Listener{{Name: "main", Domain: "edge"}},
	})
	tests := []struct {
		name  string
		setup [][]string
		want  string
	}{
		{"listener", nil, "edge"},
		{"auth user", [][]string{{"AUTH", "pay", "old"}}, "payments"},
		{"rotated password", [][]string{{"AUTH", "pay", "new"}}, "payments"},
		{"setname prefix", [][]string{{"CLIENT", "SETNAME", "search-web-1"}}, "search"},
		{"longest prefix", [][]string{{"CLIENT", "SETNAME", "search-batch-9"}}, "search-batch"},
		{"auth beats name", [][]string{{"CLIENT", "SETNAME", "search-1"}, {"AUTH", "pay", "new"}}, "payments"},
		{"hello setname", [][]string{{"HELLO", "2", "SETNAME", "search-x"}}, "search"},
		{"reset", [][]string{{"CLIENT", "SETNAME", "search-1"}, {"RESET"}}, "edge"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, h.addr)
			for _, s := range tc.setup {
				if got := c.cmd(s...); got[0] == '-' {
					t.Fatalf("%v: %q", s, got)
				}
			}
			want := fmt.Sprintf("$%d\r\n%s\r\n", len(tc.want), tc.want)
			if got := c.cmd("GET", "k"); got != want {
				t.Fatalf("domain reply %q, want %q", got, want)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		c := dialRaw(t, h.addr)
		if got := c.cmd("AUTH", "pay", "nope"); got != "-WRONGPASS invalid username-password pair or user is disabled.\r\n" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("go-redis client name", func(t *testing.T) {
		rdb := redis.NewClient(&redis.Options{Addr: h.addr, ClientName: "search-batch-1"})
		defer rdb.Close()
		if v, err := rdb.Get(context.Background(), "k").Result(); err != nil || v != "search-batch" {
			t.Fatalf("got %q, %v", v, err)
		}
	})
}

func TestDomainWithoutPolicy(t *testing.T) {
	h := startServer(t, DefaultLimits())
	install(h.cur, "v1", map[string]engine.Engine{"other": domainEngine("other")}, nil)
	got := dialRaw(t, h.addr).cmd("GET", "k")
	if want := "-ERR keyway: workload domain \"default\" has no policy\r\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestRequireAuth(t *testing.T) {
	h := startServer(t, DefaultLimits())
	install(h.cur, "v1", map[string]engine.Engine{"default": domainEngine("default")}, &keywayv1.ProxyConfig{
		Identity: &keywayv1.Identity{DefaultDomain: "default", RequireAuth: true,
			Users: []*keywayv1.User{{Name: "u", PasswordSha256: []string{sha("p")}}}},
	})
	c := dialRaw(t, h.addr)
	steps := []struct{ args, want string }{
		{"GET k", "-NOAUTH Authentication required.\r\n"},
		{"ECHO x", "-NOAUTH Authentication required.\r\n"},
		{"PING", "+PONG\r\n"},
		{"AUTH u p", "+OK\r\n"},
		{"GET k", "$7\r\ndefault\r\n"},
	}
	for _, s := range steps {
		if got := c.cmd(strings.Fields(s.args)...); got != s.want {
			t.Fatalf("%s: got %q, want %q", s.args, got, s.want)
		}
	}
}

func TestLocalCommands(t *testing.T) {
	h, _ := withRedis(t, DefaultLimits())
	c := dialRaw(t, h.addr)
	tests := []struct {
		args []string
		want string // regexp
	}{
		// MULTI is answered by the proxy and opens nothing until a command
		// follows it; DISCARD right after is answered by the proxy too.
		{[]string{"MULTI"}, `^\+OK\r\n$`},
		{[]string{"DISCARD"}, `^\+OK\r\n$`},
		{[]string{"XREAD", "STREAMS", "s", "0"}, `^\*-1\r\n$`},
		{[]string{"CLIENT", "ID"}, `^:\d+\r\n$`},
		{[]string{"CLIENT", "INFO"}, `^\$\d+\r\nid=\d+ addr=127\.0\.0\.1:\d+ .* domain=default listener=main\n\r\n$`},
		{[]string{"CLIENT", "SETINFO", "LIB-NAME", "go-redis"}, `^\+OK\r\n$`},
		{[]string{"CLIENT", "LIST"}, `lib-name=go-redis`},
		{[]string{"INFO"}, `# Server\r\nredis_version:.*# Keyway\r\nkeyway_proxy:1\r\n.*policy_applied:1\r\npolicy_version:v1\r\ndomains:default\r\n`},
		{[]string{"INFO", "clients"}, `^\$\d+\r\n# Clients\r\nconnected_clients:1\r\n`},
		{[]string{"COMMAND", "INFO", "get"}, `^\*1\r\n\*10\r\n\$3\r\nget\r\n:2\r\n\*2\r\n\+readonly\r\n\+fast\r\n:1\r\n:1\r\n:1\r\n`},
		{[]string{"COMMAND", "DOCS", "get"}, `^\*2\r\n\$3\r\nget\r\n`}, // Redis's own docs
		{[]string{"READONLY"}, `^\+OK\r\n$`},
		{[]string{"KEYWAY.EXPLAIN", "GET", "k"}, `^\*1\r\n\$\d+\r\n1\. .*upstream main\r\n$`},
		{[]string{"KEYWAY.EXPLAIN", "GET"}, `^-ERR wrong number of arguments for 'get' command\r\n$`},
		{[]string{"RESET"}, `^\+RESET\r\n$`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got := c.cmd(tc.args...)
			if !regexp.MustCompile(`(?s)` + tc.want).MatchString(got) {
				t.Fatalf("got %q, want match %q", got, tc.want)
			}
		})
	}
}

func TestCommandTable(t *testing.T) {
	h, r := withRedis(t, DefaultLimits())
	// The full table parses as one reply with as many entries as COUNT.
	c := dialRaw(t, h.addr)
	all := c.cmd("COMMAND")
	count := dialRaw(t, r.Addr).cmd("COMMAND", "COUNT")
	if !strings.HasPrefix(all, "*"+strings.TrimPrefix(count, ":")) {
		t.Fatalf("COMMAND has header %q, redis COUNT %q", all[:10], count)
	}
}

func TestQuitCloses(t *testing.T) {
	h, _ := withRedis(t, DefaultLimits())
	c := dialRaw(t, h.addr)
	c.send("*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n")
	if got := c.reply(); got != "+OK\r\n" {
		t.Fatalf("QUIT = %q", got)
	}
	if !c.closed() {
		t.Fatal("connection still open after QUIT")
	}
}

func TestExplainNeedsNoUpstream(t *testing.T) {
	h := startServer(t, DefaultLimits())
	root := &engine.Labeled{Kind: "upstream", Label: "cache", Engine: &leaf{name: "cache"}}
	install(h.cur, "v1", map[string]engine.Engine{"default": root}, nil)
	got := dialRaw(t, h.addr).cmd("KEYWAY.EXPLAIN", "SET", "k", "v")
	line := `1. upstream "cache": upstream cache`
	if want := fmt.Sprintf("*1\r\n$%d\r\n%s\r\n", len(line), line); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
