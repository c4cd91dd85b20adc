package integration

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/redistest"
	"keyway.dev/integration/harness"
)

// writeKey writes a fresh AES-256 key file and returns its path.
func writeKey(t *testing.T, dir, name string, encode func([]byte) string) string {
	t.Helper()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(encode(raw)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// transformPolicy seals values under "secret:" with the given keys, the
// last one active.
func transformPolicy(redisAddr string, keys ...[2]string) string {
	var list []string
	for _, k := range keys {
		list = append(list, fmt.Sprintf("encryption_key(%q, file = %q)", k[0], k[1]))
	}
	return fmt.Sprintf(`
main = redis("main", address = %q)
domain("default", transform(
    main,
    key_prefixes = ["secret:"],
    compression = "zstd",
    min_bytes = 64,
    keys = [%s],
    active_key = %q,
))
`, redisAddr, strings.Join(list, ", "), keys[len(keys)-1][0])
}

// startPolicyProxy runs keyway-proxy on a local policy and waits until it
// serves it.
func startPolicyProxy(t *testing.T, name, src string) *harness.Proxy {
	t.Helper()
	dir := harness.WritePolicy(t, map[string]string{"main.star": src})
	p := harness.StartProxy(t, name, "", "--policy", dir)
	harness.Eventually(t, 30*time.Second, name+" ready", p.Ready)
	return p
}

// TestTransformEncryptsAcrossRotation runs the real proxy on a transform
// policy over a real redis-server: Redis holds no plaintext of values
// under the prefix, the proxy returns them intact, and after the proxy is
// restarted with a new active key the values sealed under the old key
// still read while new writes use the new key.
func TestTransformEncryptsAcrossRotation(t *testing.T) {
	srv := redistest.Start(t)
	keys := t.TempDir()
	k1 := writeKey(t, keys, "k1.hex", hex.EncodeToString)
	k2 := writeKey(t, keys, "k2.b64", base64.StdEncoding.EncodeToString)
	const marker = "PLAINTEXT-MARKER"
	values := map[string]string{
		"secret:card":    marker + " 4111 1111 1111 1111",
		"secret:profile": strings.Repeat(marker+" name=ada plan=pro ", 200),
		"secret:empty":   "",
	}
	ctx := context.Background()

	p1 := startPolicyProxy(t, "transform-1", transformPolicy(srv.Addr, [2]string{"k1", k1}))
	c1 := client(t, p1.Addr)
	for k, v := range values {
		if err := c1.Set(ctx, k, v, 0).Err(); err != nil {
			t.Fatalf("SET %s through the proxy: %v", k, err)
		}
	}
	if err := c1.Set(ctx, "plain:note", marker, 0).Err(); err != nil {
		t.Fatal(err)
	}
	checkStored := func(t *testing.T, keyID string) {
		t.Helper()
		for k := range values {
			raw := srv.Do("GET", k)
			if strings.Contains(raw, marker) || strings.Contains(raw, "4111") || !strings.HasPrefix(raw, "\xf0KW") {
				t.Errorf("redis holds %s as %.60q, want a sealed envelope", k, raw)
			}
			if keyID != "" && !strings.Contains(raw[:8], keyID) {
				t.Errorf("redis holds %s sealed under %q, want %q", k, raw[:8], keyID)
			}
		}
		if got := srv.Do("GET", "plain:note"); got != marker {
			t.Errorf("plain key stored as %q, want it untouched", got)
		}
	}
	checkRead := func(t *testing.T, p *harness.Proxy) {
		t.Helper()
		c := client(t, p.Addr)
		for k, v := range values {
			got, err := c.Get(ctx, k).Result()
			if err != nil || got != v {
				t.Errorf("GET %s through %s = %.40q, %v; want %.40q", k, p.NodeID, got, err, v)
			}
		}
		got, err := c.MGet(ctx, "secret:card", "secret:none", "secret:profile").Result()
		if err != nil || len(got) != 3 || got[0] != values["secret:card"] || got[1] != nil || got[2] != values["secret:profile"] {
			t.Errorf("MGET through %s = %.80v, %v", p.NodeID, got, err)
		}
	}
	t.Run("sealed in redis, clear through the proxy", func(t *testing.T) {
		checkStored(t, "k1")
		checkRead(t, p1)
		if compressed, whole := len(srv.Do("GET", "secret:profile")), len(values["secret:profile"]); compressed*4 > whole {
			t.Errorf("secret:profile stored in %d bytes of %d, want it compressed", compressed, whole)
		}
	})
	t.Run("refused commands", func(t *testing.T) {
		before := srv.Do("GET", "secret:card")
		err := c1.Append(ctx, "secret:card", "x").Err()
		if err == nil || !strings.Contains(err.Error(), `APPEND cannot work on transformed values under "secret:"`) {
			t.Errorf("APPEND = %v", err)
		}
		if after := srv.Do("GET", "secret:card"); after != before {
			t.Errorf("refused APPEND reached redis: %.40q became %.40q", before, after)
		}
		if err := c1.Incr(ctx, "secret:n").Err(); err == nil || !strings.Contains(err.Error(), "INCR cannot work") {
			t.Errorf("INCR = %v", err)
		}
	})
	t.Run("transactions go through the transform", func(t *testing.T) {
		var get *redis.StringCmd
		_, err := c1.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "secret:tx", "in the clear", 0)
			get = p.Get(ctx, "secret:tx")
			return nil
		})
		if err != nil || get.Val() != "in the clear" {
			t.Errorf("transaction = %v, GET in it = %q", err, get.Val())
		}
		if got := srv.Do("GET", "secret:tx"); got == "$-1" || strings.Contains(got, "in the clear") {
			t.Errorf("transaction left %q in redis, want ciphertext", got)
		}
		_, err = c1.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Append(ctx, "secret:tx", "x")
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), "EXECABORT") {
			t.Errorf("transaction with a refused APPEND = %v, want EXECABORT", err)
		}
	})
	sealedK1 := srv.Do("GET", "secret:card")
	t.Run("tampered value is an error", func(t *testing.T) {
		raw := []byte(srv.Do("GET", "secret:card"))
		raw[len(raw)-1] ^= 1
		srv.Do("SET", "secret:tampered", string(raw))
		err := c1.Get(ctx, "secret:tampered").Err()
		if err == nil || !strings.Contains(err.Error(), "failed authentication") {
			t.Errorf("GET of a tampered value = %v", err)
		}
	})
	p1.Stop()

	// Rotation: k2 becomes active, k1 still decrypts.
	p2 := startPolicyProxy(t, "transform-2", transformPolicy(srv.Addr, [2]string{"k1", k1}, [2]string{"k2", k2}))
	t.Run("old key still reads after rotation", func(t *testing.T) {
		checkRead(t, p2)
	})
	c2 := client(t, p2.Addr)
	for k, v := range values {
		if err := c2.Set(ctx, k, v, 0).Err(); err != nil {
			t.Fatalf("SET %s after rotation: %v", k, err)
		}
	}
	t.Run("new writes use the new key", func(t *testing.T) {
		checkStored(t, "k2")
		checkRead(t, p2)
	})
	p2.Stop()

	// k1 retired: values rewritten under k2 read; one sealed under k1
	// is a clear error.
	srv.Do("SET", "secret:left-behind", sealedK1)
	p3 := startPolicyProxy(t, "transform-3", transformPolicy(srv.Addr, [2]string{"k2", k2}))
	t.Run("retired key", func(t *testing.T) {
		checkRead(t, p3)
		err := client(t, p3.Addr).Get(ctx, "secret:left-behind").Err()
		if err == nil || !strings.Contains(err.Error(), `encrypted with key "k1", which the policy does not list`) {
			t.Errorf("GET of a value under a retired key = %v", err)
		}
	})
}
