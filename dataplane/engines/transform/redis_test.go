package transform

import (
	"strings"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/redistest"
	pools "keyway.dev/dataplane/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// TestAgainstRedis runs the engine over a real redis-server through the
// proxy's upstream pools: what Redis holds is sealed, what the client
// reads is not, and Redis's own replies (nil, WRONGTYPE) come through.
func TestAgainstRedis(t *testing.T) {
	srv := redistest.Start(t)
	p := pools.NewPools(pools.Options{}, nil)
	t.Cleanup(p.Close)
	decl := []*keywayv1.Upstream{{Name: "main", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: srv.Addr}}}}
	cfg := &keywayv1.Transform{KeyPrefixes: []string{"s:"}, Compression: keywayv1.Transform_COMPRESSION_ZSTD, MinBytes: 16, Keys: []*keywayv1.EncryptionKey{keyFile(t, "k1")}, Next: leaf()}
	b := engine.NewBuilder(registry(), p, "test", decl, nil)
	root, err := b.Build(&keywayv1.Engine{Kind: &keywayv1.Engine_Transform{Transform: cfg}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Release())

	srv.Do("SET", "s:legacy", "old plaintext")
	srv.Do("LPUSH", "s:list", "x")
	batch := engine.Batch{
		enginetest.Req("SET", "s:a", secret, "EX", "100"),
		enginetest.Req("MSET", "s:b", "bee", "s:c", ""),
		enginetest.Req("MGET", "s:a", "s:b", "s:c", "s:none", "s:legacy"),
		enginetest.Req("SET", "s:b", "new", "GET"),
		enginetest.Req("GET", "s:list"),
		enginetest.Req("INCR", "s:b"),
		enginetest.Req("TTL", "s:a"),
		enginetest.Req("GETDEL", "s:b"),
	}
	root.Serve(t.Context(), batch)
	got := enginetest.Replies(batch)
	want := []string{
		enginetest.OK,
		enginetest.OK,
		"*5\r\n" + bulk(secret, true) + bulk("bee", true) + "$0\r\n\r\n" + "$-1\r\n" + bulk("old plaintext", true),
		bulk("bee", true),
		"-WRONGTYPE",
		"-ERR keyway: INCR cannot work on transformed values",
		":100\r\n",
		bulk("new", true),
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("reply %d = %.80q, want %.80q", i, got[i], want[i])
		}
	}
	stored := srv.Do("GET", "s:a")
	if strings.Contains(stored, "PLAINTEXT") || !isEnvelope([]byte(stored)) || len(stored) > len(secret)/2 {
		t.Errorf("redis holds %d bytes %.60q, want a compressed envelope", len(stored), stored)
	}
	if got := srv.Do("GET", "s:c"); got == "" || !isEnvelope([]byte(got)) {
		t.Errorf("empty value stored as %q, want an envelope", got)
	}
}
