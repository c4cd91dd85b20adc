package clitest

import (
	"keyway.dev/proto/buildinfo"

	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/keyway"
)

// Result is what one keyway command printed and its exit code.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Run runs keyway with args against the control plane at addr (via
// KEYWAY_ADDR, so a --addr in args still wins), as user alice on host1,
// at Epoch, with the fake Renderer.
func Run(t testing.TB, addr string, args ...string) Result {
	t.Helper()
	return RunWith(t, Renderer{}, addr, args...)
}

// RunWith is Run with another renderer, e.g. the real one.
func RunWith(t testing.TB, r app.Renderer, addr string, args ...string) Result {
	t.Helper()
	var out, errb bytes.Buffer
	env := map[string]string{app.AddrEnv: addr, "USER": "alice"}
	a := &app.App{
		Stdout:   &out,
		Stderr:   &errb,
		Getenv:   func(k string) string { return env[k] },
		Now:      func() time.Time { return Epoch },
		Hostname: func() (string, error) { return "host1", nil },
		Renderer: r,
		Build:    buildinfo.Info{Version: "v0.0.0-test", Commit: "0123456789abcdef", Date: "2026-01-02T15:04:05Z", Go: "go1.26"},
	}
	code := keyway.Main(context.Background(), a, args)
	return Result{Code: code, Stdout: out.String(), Stderr: errb.String()}
}

// WritePolicy writes files (name -> text) into a new directory.
func WritePolicy(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// DeadAddr is a loopback address nothing listens on: a port the kernel
// just handed out and that was closed again.
func DeadAddr(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("clitest: listen: %v", err)
	}
	addr := lis.Addr().String()
	if err := lis.Close(); err != nil {
		t.Fatalf("clitest: close: %v", err)
	}
	return addr
}
