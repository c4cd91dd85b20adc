// Package sandbox renders untrusted policies in a child process with
// resource limits, so a policy that allocates without bound, spins, or
// crashes the interpreter takes down only its own short-lived process,
// never the control plane. The child is the control plane's own binary
// re-executed with a hidden subcommand (Subcommand); it runs Child.
package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	"keyway.dev/policy/render"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Subcommand is the hidden first argument that makes keyway-control
// behave as a render child.
const Subcommand = "__render"

// Defaults used when the matching Config field is zero.
const (
	DefaultMemoryLimit   = 256 << 20
	DefaultCPULimit      = 5 * time.Second
	DefaultTimeout       = 10 * time.Second
	DefaultMaxConcurrent = 4
	// maxOutput bounds what the parent reads back; a rendered policy is
	// far smaller than its limits allow the sources to be.
	maxOutput = 64 << 20
	// maxStderr is how much of the child's stderr is kept to explain a
	// crash.
	maxStderr = 16 << 10
)

// Config configures a Sandbox. The zero value re-executes this binary
// with the default limits.
type Config struct {
	// Command is the child's argv before the limit flags; empty means
	// this executable followed by Subcommand.
	Command []string
	// Env is appended to the child's environment (tests use it to make a
	// test binary act as the child).
	Env []string
	// MemoryLimit caps the memory the render may use, in bytes, on top of
	// what the Go runtime has mapped when the child starts.
	MemoryLimit int64
	// CPULimit caps the child's CPU time (RLIMIT_CPU, whole seconds).
	CPULimit time.Duration
	// Timeout caps the child's wall-clock time, start-up included.
	Timeout time.Duration
	// MaxConcurrent caps children alive at once; further renders wait.
	MaxConcurrent int
	// Options are the step, time and size limits of the render itself.
	Options render.Options
}

// Sandbox renders bundles in child processes. It is safe for concurrent
// use.
type Sandbox struct {
	cfg   Config
	slots chan struct{}
}

// New returns a Sandbox for cfg.
func New(cfg Config) (*Sandbox, error) {
	if len(cfg.Command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("sandbox: find this executable: %w", err)
		}
		cfg.Command = []string{exe, Subcommand}
	}
	if cfg.MemoryLimit <= 0 {
		cfg.MemoryLimit = DefaultMemoryLimit
	}
	if cfg.CPULimit <= 0 {
		cfg.CPULimit = DefaultCPULimit
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = DefaultMaxConcurrent
	}
	return &Sandbox{cfg: cfg, slots: make(chan struct{}, cfg.MaxConcurrent)}, nil
}

// Render renders b in a child process. Failures of the policy come back
// as render.Errors, exactly as render.Render would return them; a child
// that breaks a limit comes back as one render.Error saying which.
func (s *Sandbox) Render(ctx context.Context, b *keywayv1.Bundle) (*keywayv1.Policy, error) {
	in, err := proto.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("sandbox: encode bundle: %w", err)
	}
	// The child checks the size precisely; this only spares a process
	// start for a bundle that cannot pass.
	if maxSrc := s.maxSource(); len(in) > 2*maxSrc {
		return nil, render.Errors{{Msg: fmt.Sprintf("policy bundle is %d bytes; the limit is %d", len(in), maxSrc)}}
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("sandbox: wait for a render slot: %w", ctx.Err())
	}
	defer func() { <-s.slots }()
	return s.run(ctx, in)
}

func (s *Sandbox) maxSource() int {
	if s.cfg.Options.MaxSourceBytes > 0 {
		return s.cfg.Options.MaxSourceBytes
	}
	return render.DefaultMaxSourceBytes
}

// run starts one child, feeds it the bundle and reads its answer.
func (s *Sandbox) run(ctx context.Context, in []byte) (*keywayv1.Policy, error) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	args := append(append([]string(nil), s.cfg.Command[1:]...), s.limitArgs()...)
	cmd := exec.CommandContext(cctx, s.cfg.Command[0], args...)
	cmd.Env = append(os.Environ(), s.cfg.Env...)
	cmd.Stdin = bytes.NewReader(in)
	out := &capped{max: maxOutput}
	errOut := &capped{max: maxStderr, quiet: true}
	cmd.Stdout, cmd.Stderr = out, errOut
	cmd.WaitDelay = time.Second
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("sandbox: render: %w", ctx.Err())
	}
	if runErr == nil && !out.over {
		return decodeResult(out.Bytes())
	}
	return nil, s.explain(cctx, runErr, out, errOut)
}

// limitArgs passes the limits to the child as flags.
func (s *Sandbox) limitArgs() []string {
	o := s.cfg.Options
	return []string{
		"-memory", strconv.FormatInt(s.cfg.MemoryLimit, 10),
		"-cpu", strconv.FormatInt(int64((s.cfg.CPULimit+time.Second-1)/time.Second), 10),
		"-steps", strconv.FormatUint(o.MaxSteps, 10),
		"-timeout", o.Timeout.String(),
		"-max-source", strconv.Itoa(o.MaxSourceBytes),
	}
}

// explain words why a child failed, as one render.Error when a limit
// was hit so the author sees it like any other policy error.
func (s *Sandbox) explain(cctx context.Context, runErr error, out, errOut *capped) error {
	switch {
	case out.over:
		return render.Errors{{Msg: fmt.Sprintf("rendered policy exceeds %d MiB", maxOutput>>20)}}
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
		return render.Errors{{Msg: fmt.Sprintf("policy rendering exceeded its time limit (%s)", s.cfg.Timeout)}}
	case outOfMemory(errOut.Bytes()):
		return render.Errors{{Msg: fmt.Sprintf("policy rendering exceeded its memory limit (%d MiB)", s.cfg.MemoryLimit>>20)}}
	case cpuExceeded(runErr):
		return render.Errors{{Msg: fmt.Sprintf("policy rendering exceeded its CPU limit (%s)", s.cfg.CPULimit)}}
	}
	return fmt.Errorf("sandbox: render child failed: %w: %s", runErr, firstLine(errOut.Bytes()))
}

// capped is a buffer that stops growing at max. A quiet one drops the
// rest; a loud one fails the write, which ends the child's output.
type capped struct {
	bytes.Buffer
	max   int
	over  bool
	quiet bool
}

func (c *capped) Write(p []byte) (int, error) {
	room := c.max - c.Len()
	if len(p) > room {
		c.over = true
		c.Buffer.Write(p[:max(room, 0)])
		if c.quiet {
			return len(p), nil
		}
		return 0, errors.New("sandbox: child output too large")
	}
	return c.Buffer.Write(p)
}
