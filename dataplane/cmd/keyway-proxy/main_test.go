package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/redistest"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
		check   func(config) error
	}{
		{"defaults", nil, false, func(c config) error {
			if c.listen != "127.0.0.1:6380" || c.admin != "127.0.0.1:9180" || c.controlPlane != "127.0.0.1:7700" {
				return fmt.Errorf("got %+v", c)
			}
			return nil
		}},
		{"standalone", []string{"--upstream", "127.0.0.1:6379"}, false, func(c config) error {
			if c.controlPlane != "" || c.upstream != "127.0.0.1:6379" {
				return fmt.Errorf("got %+v", c)
			}
			return nil
		}},
		{"limits", []string{"--max-clients", "7", "--idle-timeout", "3s"}, false, func(c config) error {
			if c.limits.MaxClients != 7 || c.limits.IdleTimeout != 3*time.Second {
				return fmt.Errorf("got %+v", c.limits)
			}
			return nil
		}},
		{"two sources", []string{"--upstream", "a:1", "--policy", "p.star"}, true, nil},
		{"unknown flag", []string{"--bogus"}, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.args, io.Discard)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if tc.check != nil {
				if err := tc.check(c); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// startRun runs the proxy in-process with args and returns its client and
// admin addresses; the proxy stops when the test ends.
func startRun(t *testing.T, args ...string) (string, string, func() error) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	admin := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	cfg, err := parseFlags(append([]string{"--listen", addr, "--admin", admin, "--drain-timeout", "5s"}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		runErr = run(ctx, cfg, slog.New(slog.DiscardHandler))
	}()
	stop := func() error {
		cancel()
		<-done
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	waitHTTP(t, "http://"+admin+"/healthz", http.StatusOK)
	return addr, admin, stop
}

func waitHTTP(t *testing.T, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered %d (last: %v)", url, want, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStandalone(t *testing.T) {
	r := redistest.Start(t)
	addr, admin, stop := startRun(t, "--upstream", r.Addr)
	waitHTTP(t, "http://"+admin+"/readyz", http.StatusOK)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("set: %v", err)
	}
	if got := r.Do("GET", "k"); got != "v" {
		t.Fatalf("redis has %q", got)
	}
	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestPolicyFile(t *testing.T) {
	r := redistest.Start(t)
	dir := t.TempDir()
	policy := filepath.Join(dir, "main.star")
	src := fmt.Sprintf(`
cache = redis("cache", %q)
domain("default", cache)
`, r.Addr)
	if err := os.WriteFile(policy, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, admin, _ := startRun(t, "--policy", dir)
	waitHTTP(t, "http://"+admin+"/readyz", http.StatusOK)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	if err := rdb.Set(context.Background(), "p", "1", 0).Err(); err != nil {
		t.Fatalf("set: %v", err)
	}
	if got := r.Do("GET", "p"); got != "1" {
		t.Fatalf("redis has %q", got)
	}
}
