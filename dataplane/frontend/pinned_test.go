package frontend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/cluster"
	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/all"
	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/reload"
	"keyway.dev/dataplane/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// withPolicy serves a "default" domain whose tree is root, compiled by
// the real registry and pools, over the given upstreams.
func withPolicy(t testing.TB, root *keywayv1.Engine, ups ...*keywayv1.Upstream) *harness {
	t.Helper()
	return withPolicyConfig(t, Config{Limits: DefaultLimits()}, root, ups...)
}

// withPolicyConfig is withPolicy on a server with more of its Config set.
func withPolicyConfig(t testing.TB, cfg Config, root *keywayv1.Engine, ups ...*keywayv1.Upstream) *harness {
	t.Helper()
	return withPolicyIdentity(t, cfg, &keywayv1.Identity{DefaultDomain: "default"}, root, ups...)
}

// withPolicyIdentity is withPolicyConfig with the policy's identity.
func withPolicyIdentity(t testing.TB, cfg Config, id *keywayv1.Identity, root *keywayv1.Engine, ups ...*keywayv1.Upstream) *harness {
	t.Helper()
	h := startServerConfig(t, cfg)
	pools := upstream.NewPools(upstream.Options{}, slog.New(slog.DiscardHandler))
	pools.SetCluster(cluster.NewShared)
	a := reload.NewApplier(all.Registry(), pools, &engine.Env{NodeID: "test"}, h.cur, slog.New(slog.DiscardHandler))
	tree := &keywayv1.DomainTree{Version: "v1", Root: root, Upstreams: ups}
	proxy := &keywayv1.ProxyConfig{Name: "proxy", Identity: id}
	if err := a.Apply([]*keywayv1.Domain{{Name: "default", Stable: tree}}, proxy, "v1"); err != nil {
		t.Fatalf("apply: %v", err)
	}
	t.Cleanup(pools.Close)
	t.Cleanup(func() { h.cur.Install(nil) })
	return h
}

func forward(name string) *keywayv1.Engine {
	return &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: name}}}
}

func standalone(name string, r *redistest.Server) *keywayv1.Upstream {
	return &keywayv1.Upstream{Name: name, Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: r.Addr}}}
}

// encryptionKey writes a random key file for a transform.
func encryptionKey(t testing.TB) *keywayv1.EncryptionKey {
	t.Helper()
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	path := filepath.Join(t.TempDir(), "k1.key")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(raw)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &keywayv1.EncryptionKey{Id: "k1", File: path}
}

// pinnedPolicy is a policy with every engine a transaction used to
// bypass: FLUSHALL rejected, "session:" routed to upstream b, "ns:"
// namespaced and "secret:" encrypted on upstream a, the rest on a.
func pinnedPolicy(t testing.TB) (h *harness, a, b *redistest.Server) {
	a, b = redistest.Start(t), redistest.Start(t)
	root := &keywayv1.Engine{Kind: &keywayv1.Engine_Reject{Reject: &keywayv1.Reject{
		Commands: []string{"FLUSHALL", "FLUSHDB"},
		Message:  "ERR refused by Keyway policy",
		Next: &keywayv1.Engine{Kind: &keywayv1.Engine_Route{Route: &keywayv1.Route{
			Routes: []*keywayv1.PrefixRoute{
				{Prefix: "session:", Engine: forward("b")},
				{Prefix: "ns:", Engine: &keywayv1.Engine{Kind: &keywayv1.Engine_Prefix{Prefix: &keywayv1.Prefix{
					Prefix: "app1:", Next: forward("a")}}}},
				{Prefix: "secret:", Engine: &keywayv1.Engine{Kind: &keywayv1.Engine_Transform{Transform: &keywayv1.Transform{
					KeyPrefixes: []string{"secret:"}, Keys: []*keywayv1.EncryptionKey{encryptionKey(t)}, Next: forward("a")}}}},
			},
			Default: forward("a"),
		}}},
	}}}
	return withPolicy(t, root, standalone("a", a), standalone("b", b)), a, b
}

// pstep is one command of a raw-RESP script and the reply it must get, a
// regular expression matched against the whole reply.
type pstep struct {
	args string
	want string
}

func runSteps(t *testing.T, c *rawConn, steps []pstep) {
	t.Helper()
	for _, s := range steps {
		got := c.cmd(strings.Fields(s.args)...)
		if !regexp.MustCompile(`^(?s)` + s.want + `$`).MatchString(got) {
			t.Fatalf("%s: got %q, want %q", s.args, got, s.want)
		}
	}
}

func TestPinnedThroughTree(t *testing.T) {
	h, a, b := pinnedPolicy(t)
	const abort = `-EXECABORT Transaction discarded because of previous errors\.\r\n`
	tests := []struct {
		name  string
		steps []pstep
		// check asserts on the upstreams afterwards.
		check func(t *testing.T)
	}{{
		name: "reject inside MULTI aborts the transaction",
		steps: []pstep{
			{"SET keep 1", `\+OK\r\n`},
			{"MULTI", `\+OK\r\n`},
			{"SET keep 2", `\+QUEUED\r\n`},
			{"FLUSHALL", `-ERR refused by Keyway policy\r\n`},
			{"EXEC", abort},
			{"GET keep", `\$1\r\n1\r\n`},
		},
		check: func(t *testing.T) {
			if got := a.Do("GET", "keep"); got != "1" {
				t.Fatalf("redis a lost its keys: GET keep = %q", got)
			}
		},
	}, {
		name: "prefix namespaces keys in a transaction and in its results",
		steps: []pstep{
			{"MULTI", `\+OK\r\n`},
			{"SET ns:x v", `\+QUEUED\r\n`},
			{"GET ns:x", `\+QUEUED\r\n`},
			{"RPUSH ns:l job", `\+QUEUED\r\n`},
			{"BLPOP ns:l 0", `\+QUEUED\r\n`},
			{"EXEC", `\*4\r\n\+OK\r\n\$1\r\nv\r\n:1\r\n\*2\r\n\$4\r\nns:l\r\n\$3\r\njob\r\n`},
		},
		check: func(t *testing.T) {
			if got := a.Do("GET", "app1:ns:x"); got != "v" {
				t.Fatalf("GET app1:ns:x on a = %q", got)
			}
			if got := a.Do("EXISTS", "ns:x"); got != ":0" {
				t.Fatalf("un-namespaced key written: EXISTS ns:x = %q", got)
			}
		},
	}, {
		name: "transform encrypts in a transaction and opens its results",
		steps: []pstep{
			{"MULTI", `\+OK\r\n`},
			{"SET secret:card 4111-1111-1111-1111", `\+QUEUED\r\n`},
			{"GET secret:card", `\+QUEUED\r\n`},
			{"EXEC", `\*2\r\n\+OK\r\n\$19\r\n4111-1111-1111-1111\r\n`},
		},
		check: func(t *testing.T) {
			got := a.Do("GET", "secret:card")
			if got == "$-1" || strings.Contains(got, "4111") {
				t.Fatalf("redis a holds %q, want ciphertext", got)
			}
		},
	}, {
		name: "a transaction runs where its first key routes",
		steps: []pstep{
			{"MULTI", `\+OK\r\n`},
			{"SET session:1 v", `\+QUEUED\r\n`},
			{"INCR session:n", `\+QUEUED\r\n`},
			{"EXEC", `\*2\r\n\+OK\r\n:1\r\n`},
		},
		check: func(t *testing.T) {
			if got := b.Do("GET", "session:1"); got != "v" {
				t.Fatalf("GET session:1 on b = %q", got)
			}
			if got := a.Do("EXISTS", "session:1"); got != ":0" {
				t.Fatalf("EXISTS session:1 on a = %q", got)
			}
		},
	}, {
		name: "a key routed elsewhere is refused and aborts",
		steps: []pstep{
			{"MULTI", `\+OK\r\n`},
			{"SET session:2 v", `\+QUEUED\r\n`},
			{"SET other v", `-CROSSSLOT keyway: SET routes to upstream "a" but this transaction runs on "b"\r\n`},
			{"EXEC", abort},
		},
		check: func(t *testing.T) {
			if got := b.Do("EXISTS", "session:2"); got != ":0" {
				t.Fatalf("aborted transaction wrote session:2 on b: %q", got)
			}
			if got := a.Do("EXISTS", "other"); got != ":0" {
				t.Fatalf("refused command wrote other on a: %q", got)
			}
		},
	}, {
		name: "EXEC and DISCARD right after MULTI",
		steps: []pstep{
			{"MULTI", `\+OK\r\n`},
			{"EXEC", `\*0\r\n`},
			{"MULTI", `\+OK\r\n`},
			{"DISCARD", `\+OK\r\n`},
			{"EXEC", `-ERR EXEC without MULTI\r\n`},
			{"MULTI", `\+OK\r\n`},
			{"MULTI", `-ERR MULTI calls can not be nested\r\n`},
			{"FLUSHDB", `-ERR refused by Keyway policy\r\n`},
			{"EXEC", abort},
		},
	}, {
		name: "local commands are queued with the transaction",
		steps: []pstep{
			{"MULTI", `\+OK\r\n`},
			{"PING", `\+QUEUED\r\n`},
			{"SET local v", `\+QUEUED\r\n`},
			{"ECHO hi", `\+QUEUED\r\n`},
			{"NOSUCH", `-ERR unknown command 'NOSUCH'.*\r\n`},
			{"EXEC", abort},
			{"MULTI", `\+OK\r\n`},
			{"PING", `\+QUEUED\r\n`},
			{"SET local v", `\+QUEUED\r\n`},
			{"ECHO hi", `\+QUEUED\r\n`},
			{"UNWATCH", `\+QUEUED\r\n`},
			{"EXEC", `\*4\r\n\+PONG\r\n\+OK\r\n\$2\r\nhi\r\n\+OK\r\n`},
		},
	}, {
		name: "blocking pop follows the route",
		steps: []pstep{
			{"RPUSH session:q job", `:1\r\n`},
			{"BLPOP session:q 1", `\*2\r\n\$9\r\nsession:q\r\n\$3\r\njob\r\n`},
			{"PING", `\+PONG\r\n`},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runSteps(t, dialRaw(t, h.addr), tt.steps)
			if tt.check != nil {
				tt.check(t)
			}
		})
	}
}

func TestPinnedWatch(t *testing.T) {
	h, a, b := pinnedPolicy(t)
	tests := []struct {
		name, key, stored string
		redis             *redistest.Server
		wantExec          string
		conflict          bool
	}{
		{"namespaced key, conflicting write", "ns:w", "app1:ns:w", a, `\*-1\r\n`, true},
		{"namespaced key, no conflict", "ns:v", "app1:ns:v", a, `\*1\r\n\+OK\r\n`, false},
		{"routed key, conflicting write", "session:w", "session:w", b, `\*-1\r\n`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, other := dialRaw(t, h.addr), dialRaw(t, h.addr)
			runSteps(t, c, []pstep{{"WATCH " + tt.key, `\+OK\r\n`}})
			if tt.conflict {
				runSteps(t, other, []pstep{{"SET " + tt.key + " theirs", `\+OK\r\n`}})
			}
			runSteps(t, c, []pstep{
				{"MULTI", `\+OK\r\n`},
				{"SET " + tt.key + " mine", `\+QUEUED\r\n`},
				{"EXEC", tt.wantExec},
			})
			want := "mine"
			if tt.conflict {
				want = "theirs"
			}
			if got := tt.redis.Do("GET", tt.stored); got != want {
				t.Fatalf("GET %s = %q, want %q", tt.stored, got, want)
			}
		})
	}
	t.Run("watch then a transaction elsewhere", func(t *testing.T) {
		runSteps(t, dialRaw(t, h.addr), []pstep{
			{"WATCH session:x", `\+OK\r\n`},
			{"MULTI", `\+OK\r\n`},
			{"SET plain v", `-CROSSSLOT keyway: SET routes to upstream "a" but this transaction runs on "b"\r\n`},
			{"EXEC", `-EXECABORT .*`},
			{"UNWATCH", `\+OK\r\n`},
		})
	})
}

func TestPinnedGoRedisTxPipelined(t *testing.T) {
	h, a, _ := pinnedPolicy(t)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: h.addr})
	defer rdb.Close()
	var get *redis.StringCmd
	var incr *redis.IntCmd
	if _, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "secret:tx", "plaintext", 0)
		get = p.Get(ctx, "secret:tx")
		incr = p.Incr(ctx, "ns:count")
		return nil
	}); err != nil {
		t.Fatalf("tx: %v", err)
	}
	if get.Val() != "plaintext" || incr.Val() != 1 {
		t.Fatalf("results: get %q, incr %d", get.Val(), incr.Val())
	}
	if got := a.Do("GET", "secret:tx"); strings.Contains(got, "plaintext") {
		t.Fatalf("redis holds plaintext: %q", got)
	}
	if got := a.Do("GET", "app1:ns:count"); got != "1" {
		t.Fatalf("GET app1:ns:count = %q", got)
	}
	var flush *redis.StatusCmd
	_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "k", "v", 0)
		flush = p.FlushAll(ctx)
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "EXECABORT") || !strings.Contains(flush.Err().Error(), "refused by Keyway policy") {
		t.Fatalf("tx with FLUSHALL: %v; FLUSHALL: %v", err, flush.Err())
	}
	if got := a.Do("EXISTS", "k"); got != ":0" {
		t.Fatalf("aborted transaction wrote k: %q", got)
	}
	if got := a.Do("GET", "secret:tx"); got == "$-1" {
		t.Fatalf("FLUSHALL reached redis")
	}
}

// TestPinnedCluster: a transaction on a cluster upstream is pinned to the
// node of its first key; a key of another node is refused in Redis
// Cluster's words and aborts it, keys of one slot run together.
func TestPinnedCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 0)
	h := withPolicy(t, forward("c"), &keywayv1.Upstream{Name: "c",
		Kind: &keywayv1.Upstream_Cluster{Cluster: &keywayv1.Cluster{Seeds: cl.Seeds()}}})
	owner := func(key string) *redistest.Server {
		for _, n := range cl.Primaries() {
			if !strings.HasPrefix(n.Do("EXISTS", key), "-MOVED") {
				return n
			}
		}
		t.Fatalf("no primary owns %q", key)
		return nil
	}
	first, home := "tx:a", owner("tx:a")
	var far string
	for _, k := range []string{"tx:b", "tx:c", "tx:d", "tx:e", "tx:f", "tx:g", "tx:h"} {
		if owner(k) != home {
			far = k
			break
		}
	}
	if far == "" {
		t.Fatal("no key on another primary")
	}
	const abort = `-EXECABORT Transaction discarded because of previous errors\.\r\n`
	tests := []struct {
		name  string
		steps []pstep
	}{
		{"a key of another node aborts", []pstep{
			{"MULTI", `\+OK\r\n`},
			{"SET " + first + " v", `\+QUEUED\r\n`},
			{"SET " + far + " v", `-CROSSSLOT keyway: SET touches a key of another node of upstream "c" .*\{hash tag\}\r\n`},
			{"EXEC", abort},
			{"EXISTS " + first, `:0\r\n`},
		}},
		{"keys of one slot run together", []pstep{
			{"MULTI", `\+OK\r\n`},
			{"SET {" + far + "}1 v", `\+QUEUED\r\n`},
			{"INCR {" + far + "}2", `\+QUEUED\r\n`},
			{"EXEC", `\*2\r\n\+OK\r\n:1\r\n`},
			{"GET {" + far + "}1", `\$1\r\nv\r\n`},
		}},
		{"watch pins to the key's node", []pstep{
			{"WATCH " + far, `\+OK\r\n`},
			{"MULTI", `\+OK\r\n`},
			{"SET " + far + " mine", `\+QUEUED\r\n`},
			{"EXEC", `\*1\r\n\+OK\r\n`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runSteps(t, dialRaw(t, h.addr), tt.steps)
		})
	}
	if got := owner(far).Do("GET", far); got != "mine" {
		t.Fatalf("GET %s on its node = %q", far, got)
	}
}

// TestPinnedConnectionLost: when Redis goes away mid-transaction the
// command that finds out gets an error, EXEC aborts, and the client is
// back on the normal path with nothing pinned.
func TestPinnedConnectionLost(t *testing.T) {
	h, r := withRealUpstream(t)
	c := dialRaw(t, h.addr)
	runSteps(t, c, []pstep{
		{"MULTI", `\+OK\r\n`},
		{"SET a 1", `\+QUEUED\r\n`},
	})
	r.Kill()
	runSteps(t, c, []pstep{
		{"SET b 2", `-ERR .*\r\n`},
		{"EXEC", `-EXECABORT Transaction discarded because of previous errors\.\r\n`},
		{"EXEC", `-ERR EXEC without MULTI\r\n`},
		{"PING", `\+PONG\r\n`},
	})
}
