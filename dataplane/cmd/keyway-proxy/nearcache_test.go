package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/redistest"
)

// TestNearCachePolicy runs the whole chain: a policy file with a
// near_cache, rendered by the proxy; hot reads answered from memory,
// KEYWAY.EXPLAIN saying so, the counters in /metrics, a write through the
// proxy seen by the very next read, and a write made directly on Redis
// seen once Redis's invalidation arrives.
func TestNearCachePolicy(t *testing.T) {
	r := redistest.Start(t)
	dir := t.TempDir()
	src := fmt.Sprintf(`
main = redis("main", %q)
domain("default", route(
    routes = {"hot:": near_cache(main, max_bytes = 1048576, prefixes = ["hot:"], label = "hot")},
    default = main,
))
`, r.Addr)
	if err := os.WriteFile(filepath.Join(dir, "main.star"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, admin, _ := startRun(t, "--policy", dir)
	waitHTTP(t, "http://"+admin+"/readyz", http.StatusOK)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()

	if err := rdb.Set(ctx, "hot:1", "v1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	hits := func() float64 {
		return sum(scrapeProxy(t, admin), "keyway_engine_events_total", map[string]string{"kind": "near_cache", "event": "hits"})
	}
	// The SET's own invalidation may refuse the first fills; read until
	// a read is a hit.
	deadline := time.Now().Add(10 * time.Second)
	for hits() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no read was answered from the near cache")
		}
		if got, err := rdb.Get(ctx, "hot:1").Result(); err != nil || got != "v1" {
			t.Fatalf("GET = %q, %v", got, err)
		}
	}
	lines, err := rdb.Do(ctx, "KEYWAY.EXPLAIN", "GET", "hot:1").StringSlice()
	if err != nil {
		t.Fatalf("KEYWAY.EXPLAIN: %v", err)
	}
	if text := strings.Join(lines, "\n"); !strings.Contains(text, "served from the near cache") {
		t.Errorf("KEYWAY.EXPLAIN GET hot:1 =\n%s", text)
	}

	// A write through the proxy: the next read sees it, no waiting.
	if err := rdb.Set(ctx, "hot:1", "v2", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, _ := rdb.Get(ctx, "hot:1").Result(); got != "v2" {
		t.Errorf("read after a write through the proxy = %q, want v2", got)
	}

	// A write on Redis itself: seen once its invalidation arrives.
	r.Do("SET", "hot:1", "v3")
	deadline = time.Now().Add(10 * time.Second)
	for {
		got, _ := rdb.Get(ctx, "hot:1").Result()
		if got == "v3" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %q after a direct write", got)
		}
	}
}
