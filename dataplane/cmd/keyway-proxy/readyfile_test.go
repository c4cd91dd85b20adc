package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"keyway.dev/dataplane/redistest"
	"keyway.dev/proto/readyfile"
)

// With every listener on port 0, the ready file names the ports the
// kernel gave, each of them open, and it is gone once the proxy stopped.
func TestReadyFile(t *testing.T) {
	r := redistest.Start(t)
	ready := filepath.Join(t.TempDir(), "ready.json")
	bound, stop := startRunReady(t, ready, "--upstream", r.Addr)
	if len(bound) != 2 {
		t.Fatalf("ready file %v: want listen and admin only", bound)
	}
	for _, name := range []string{"listen", "admin"} {
		host, port, err := net.SplitHostPort(bound[name])
		if err != nil || host != "127.0.0.1" || port == "0" {
			t.Fatalf("%s = %q (%v): want 127.0.0.1 and the port bound", name, bound[name], err)
		}
		c, err := net.Dial("tcp", bound[name])
		if err != nil {
			t.Fatalf("%s %s does not accept: %v", name, bound[name], err)
		}
		_ = c.Close()
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := readyfile.Read(ready); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ready file after the stop: %v", err)
	}
}

// A ready file that cannot be written stops the proxy with the reason,
// rather than leave a parent waiting for it.
func TestReadyFileUnwritable(t *testing.T) {
	r := redistest.Start(t)
	missing := filepath.Join(t.TempDir(), "no-such-dir", "ready.json")
	cfg, err := parseFlags([]string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--upstream", r.Addr, "--ready-file", missing}, os.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "ready file") || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("run = %v, want the ready file's error", err)
	}
}

// The control plane is told the bound addresses, --listen first, never
// the ":0" of a flag.
func TestAdvertisedBound(t *testing.T) {
	got := advertised(map[string]string{"listen": "127.0.0.1:40001", "admin": "127.0.0.1:40002",
		"tls-listen": "127.0.0.1:40003", "cluster-listen": "127.0.0.1:40004,127.0.0.1:40005"})
	want := []string{"127.0.0.1:40001", "127.0.0.1:40003", "127.0.0.1:40004", "127.0.0.1:40005"}
	if !slices.Equal(got, want) {
		t.Fatalf("advertised = %v, want %v", got, want)
	}
	if got := advertised(map[string]string{"listen": "127.0.0.1:40001", "admin": "127.0.0.1:40002"}); !slices.Equal(got, want[:1]) {
		t.Fatalf("advertised = %v, want %v", got, want[:1])
	}
}
