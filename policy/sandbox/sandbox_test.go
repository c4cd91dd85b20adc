package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"keyway.dev/policy/render"
	"keyway.dev/policy/sandbox"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// control is a render child (internal/renderchild, what keyway-control
// runs as sandbox.Subcommand) built for these tests. The child must be a
// real build, not this test binary: under -race the race detector's
// shadow memory cannot live inside an address-space limit.
var control string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "keyway-sandbox-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	control = filepath.Join(dir, "renderchild")
	build := exec.Command("go", "build", "-o", control, "keyway.dev/policy/sandbox/internal/renderchild")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build renderchild:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func newSandbox(t *testing.T, cfg sandbox.Config) *sandbox.Sandbox {
	t.Helper()
	if len(cfg.Command) == 0 {
		cfg.Command = []string{control, sandbox.Subcommand}
	}
	s, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func bundle(src string) *keywayv1.Bundle {
	return &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte(src)}}
}

const goodPolicy = `
main = redis("main", "127.0.0.1:6401")
domain("default", main)
`

func TestRenderMatchesInProcess(t *testing.T) {
	s := newSandbox(t, sandbox.Config{})
	tests := []struct {
		name string
		src  string
	}{
		{"renders", goodPolicy},
		{"syntax error", "main = redis(\n"},
		{"runtime error", "domain(\"default\", nope)\n"},
		{"step limit", "def f():\n    for i in range(1 << 40):\n        pass\nf()\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bundle(tt.src)
			want, wantErr := render.Render(context.Background(), b, render.Options{})
			got, err := s.Render(context.Background(), b)
			if (err == nil) != (wantErr == nil) {
				t.Fatalf("sandbox err %v, in-process err %v", err, wantErr)
			}
			if err != nil {
				if err.Error() != wantErr.Error() {
					t.Fatalf("sandbox error %q, in-process %q", err, wantErr)
				}
				var re *render.Error
				if !errors.As(err, &re) {
					t.Fatalf("sandbox error %T is not a render.Error", err)
				}
				return
			}
			if !proto.Equal(got, want) {
				t.Fatalf("sandbox rendered\n%v\nin-process\n%v", got, want)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name string
		cfg  sandbox.Config
		src  string
		want string
	}{
		{
			name: "memory bomb",
			cfg:  sandbox.Config{MemoryLimit: 64 << 20},
			src:  "parts = [(\"ab\" * (1 << 27)) + str(i) for i in range(8)]\n" + goodPolicy,
			want: "policy rendering exceeded its memory limit (64 MiB)",
		},
		{
			name: "wall clock",
			cfg:  sandbox.Config{Command: []string{"/bin/sh", "-c", "exec sleep 60", "sh"}, Timeout: 100 * time.Millisecond},
			src:  goodPolicy,
			want: "policy rendering exceeded its time limit (100ms)",
		},
		{
			name: "cpu",
			cfg:  sandbox.Config{Command: []string{"/bin/sh", "-c", "kill -XCPU $$", "sh"}, CPULimit: time.Second},
			src:  goodPolicy,
			want: "policy rendering exceeded its CPU limit (1s)",
		},
		{
			name: "source size",
			cfg:  sandbox.Config{Options: render.Options{MaxSourceBytes: 16}},
			src:  goodPolicy + strings.Repeat("#", 100),
			want: "the limit is 16",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSandbox(t, tt.cfg)
			_, err := s.Render(context.Background(), bundle(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestCallerCancelIsNotAPolicyError(t *testing.T) {
	s := newSandbox(t, sandbox.Config{Command: []string{"/bin/sh", "-c", "exec sleep 60", "sh"}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Render(ctx, bundle(goodPolicy))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
