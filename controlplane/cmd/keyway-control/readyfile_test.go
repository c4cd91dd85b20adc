package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"keyway.dev/proto/readyfile"
)

// With --listen and --metrics-listen on port 0, the ready file names the
// ports the kernel gave, both serving, and it is gone after the stop.
func TestReadyFile(t *testing.T) {
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--ready-file", ready,
			"--render", "inprocess", "--data-dir", filepath.Join(dir, "data"), "--log-level", "warn"}, os.Stdout, func(string) string { return "" })
	}()
	var bound map[string]string
	deadline := time.Now().Add(60 * time.Second)
	for {
		var err error
		if bound, err = readyfile.Read(ready); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("keyway-control ended before writing the ready file: %v", err)
		default:
		}
		if !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			t.Fatalf("ready file: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(bound) != 2 {
		t.Fatalf("ready file %v: want listen and metrics-listen", bound)
	}
	for _, name := range []string{"listen", "metrics-listen"} {
		host, port, err := net.SplitHostPort(bound[name])
		if err != nil || host != "127.0.0.1" || port == "0" {
			t.Fatalf("%s = %q (%v): want 127.0.0.1 and the port bound", name, bound[name], err)
		}
	}
	conn, err := grpc.NewClient(bound["listen"], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hctx, hcancel := context.WithTimeout(ctx, 30*time.Second)
	defer hcancel()
	if _, err := healthpb.NewHealthClient(conn).Check(hctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("gRPC health on %s: %v", bound["listen"], err)
	}
	resp, err := http.Get("http://" + bound["metrics-listen"] + "/healthz")
	if err != nil {
		t.Fatalf("metrics listener: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz = %s", resp.Status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if _, err := readyfile.Read(ready); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ready file after the stop: %v", err)
	}
}

// A ready file that cannot be written stops the start, exit status 1,
// rather than leave a parent waiting for it.
func TestReadyFileUnwritable(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := realMain([]string{"--listen", "127.0.0.1:0", "--ready-file", filepath.Join(dir, "missing", "ready.json"),
		"--render", "inprocess", "--data-dir", filepath.Join(dir, "data"), "--log-level", "warn"}, &stdout, &stderr, func(string) string { return "" })
	if code != 1 || !strings.Contains(stderr.String(), "ready file") {
		t.Fatalf("exit %d, stderr %q; want exit 1 and the ready file's error", code, stderr.String())
	}
}
