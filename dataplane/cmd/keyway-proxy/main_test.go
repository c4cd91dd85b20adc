package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/redistest"
	"keyway.dev/proto/readyfile"
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
	bound, stop := startRunBound(t, args...)
	return bound["listen"], bound["admin"], stop
}

// startRunBound runs the proxy in-process with every listener on a port
// the kernel picks and returns what it wrote to --ready-file: flag name
// to bound address.
func startRunBound(t *testing.T, args ...string) (map[string]string, func() error) {
	t.Helper()
	return startRunReady(t, filepath.Join(t.TempDir(), "ready.json"), args...)
}

// startRunReady is startRunBound with the ready file at ready.
func startRunReady(t *testing.T, ready string, args ...string) (map[string]string, func() error) {
	t.Helper()
	cfg, err := parseFlags(append([]string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--ready-file", ready, "--drain-timeout", "5s"}, args...), io.Discard)
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
	bound := waitReadyFile(t, ready, done)
	waitHTTP(t, "http://"+bound["admin"]+"/healthz", http.StatusOK)
	return bound, stop
}

// waitReadyFile polls for the ready file until the proxy writes it or
// exits (done closed).
func waitReadyFile(t *testing.T, path string, done <-chan struct{}) map[string]string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		bound, err := readyfile.Read(path)
		if err == nil {
			return bound
		}
		select {
		case <-done:
			t.Fatalf("the proxy exited before writing %s", path)
		default:
		}
		if !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			t.Fatalf("ready file: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
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

// TestCommandLine checks what an operator sees before the proxy starts:
// --help and --version exit 0 on stdout, misuse exits 2 on stderr, and
// KEYWAY_PROXY_* variables set flags the command line leaves alone.
func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		start  bool
		stdout string
		stderr string
	}{
		{"help", []string{"--help"}, nil, 0, false, "(env KEYWAY_PROXY_LISTEN)", ""},
		{"version", []string{"--version"}, nil, 0, false, "keyway-proxy ", ""},
		{"unknown flag", []string{"--bogus"}, nil, 2, false, "", "flag provided but not defined: -bogus"},
		{"argument", []string{"run"}, nil, 2, false, "", `unexpected argument "run"`},
		{"bad format", []string{"--log-format", "xml"}, nil, 2, false, "", "--log-format"},
		{"bad env", nil, map[string]string{"KEYWAY_PROXY_MAX_CLIENTS": "many"}, 2, false, "", "KEYWAY_PROXY_MAX_CLIENTS"},
		{"env", nil, map[string]string{"KEYWAY_PROXY_UPSTREAM": "127.0.0.1:1"}, 0, true, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cfg, _, code, start := checkArgs(tc.args, &stdout, &stderr, func(k string) string { return tc.env[k] })
			if code != tc.code || start != tc.start {
				t.Fatalf("code %d start %v, want %d %v; stderr:\n%s", code, start, tc.code, tc.start, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.stdout, stdout.String())
			}
			if tc.stderr != "" && (!strings.Contains(stderr.String(), tc.stderr) || !strings.Contains(stderr.String(), "Run 'keyway-proxy --help'")) {
				t.Errorf("stderr = %q, want %q and a pointer to --help", stderr.String(), tc.stderr)
			}
			if tc.name == "env" && (cfg.upstream != "127.0.0.1:1" || cfg.controlPlane != "") {
				t.Errorf("KEYWAY_PROXY_UPSTREAM gave upstream %q control plane %q", cfg.upstream, cfg.controlPlane)
			}
		})
	}
}
