// Package testrun runs a rendered policy's test(...) cases in a child
// process with resource limits. The cases need the proxy's engines, which
// the control plane must not link (the planes never import each other),
// so the child is keyway-proxy itself, started with the hidden
// Subcommand; keyway-control finds it beside its own executable or where
// --policy-test-runner says. The package only speaks the protocol between
// the two: a marshalled Policy on stdin, JSON results on stdout.
package testrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Subcommand is the hidden first argument that makes keyway-proxy run a
// policy's test cases and exit.
const Subcommand = "__policy-test"

// RunnerName is the executable keyway-control looks for beside itself.
const RunnerName = "keyway-proxy"

// Defaults used when the matching Config field is zero. A case may wait
// up to its own timeout (5s in the proxy's runner), so the wall-clock
// bound leaves room for several.
const (
	DefaultMemoryLimit = 512 << 20
	DefaultCPULimit    = 20 * time.Second
	DefaultTimeout     = 60 * time.Second
	maxOutput          = 16 << 20
	maxStderr          = 16 << 10
)

// Result is one test case's outcome, as keyway-proxy's runner reports it
// (the JSON of keyway.dev/dataplane/policytest.Result).
type Result struct {
	Name string `json:"name"`
	// Source is the file:line:col of the test(...) call.
	Source   string   `json:"source,omitempty"`
	Domain   string   `json:"domain"`
	Command  []string `json:"command"`
	Pass     bool     `json:"pass"`
	Reason   string   `json:"reason,omitempty"`
	Upstream string   `json:"upstream,omitempty"`
	Sent     []string `json:"sent,omitempty"`
	Reply    string   `json:"reply,omitempty"`
	Path     []string `json:"path,omitempty"`
}

// Failures is the error of a run where some cases failed.
type Failures []Result

func (f Failures) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d test case(s) of the policy failed:", len(f))
	for _, r := range f {
		b.WriteString("\n")
		b.WriteString(Describe(r))
	}
	return b.String()
}

// Describe is one failing case on one line: where it is declared, its
// name and the first line of why it failed.
func Describe(r Result) string {
	where := r.Source
	if where == "" {
		where = "-"
	}
	reason, _, _ := strings.Cut(r.Reason, "\n")
	return fmt.Sprintf("%s: test %q (%s: %s): %s", where, r.Name, r.Domain, strings.Join(r.Command, " "), reason)
}

// Config configures a Runner.
type Config struct {
	// Path is the runner executable; empty means RunnerName beside this
	// executable.
	Path string
	// MemoryLimit caps the memory the child may use beyond what its Go
	// runtime has mapped at start, in bytes.
	MemoryLimit int64
	// CPULimit caps the child's CPU time (RLIMIT_CPU, whole seconds).
	CPULimit time.Duration
	// Timeout caps the child's wall-clock time.
	Timeout time.Duration
	// Env is appended to the child's environment (tests use it).
	Env []string
	// Args, when set, replace Subcommand before the limit flags (tests
	// make a test binary act as the runner).
	Args []string
}

// Runner runs test cases in a child process. It is safe for concurrent
// use.
type Runner struct {
	cfg Config
}

// New returns a Runner for cfg. It does not look for the executable yet:
// a control plane starts without it, and a push with test cases says
// what is missing.
func New(cfg Config) *Runner {
	if cfg.MemoryLimit <= 0 {
		cfg.MemoryLimit = DefaultMemoryLimit
	}
	if cfg.CPULimit <= 0 {
		cfg.CPULimit = DefaultCPULimit
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if len(cfg.Args) == 0 {
		cfg.Args = []string{Subcommand}
	}
	return &Runner{cfg: cfg}
}

// ErrNoRunner wraps the error of a runner that cannot be found.
var ErrNoRunner = errors.New("the policy test runner is missing")

// Locate is the runner's path, or an error that says how to provide it.
func (r *Runner) Locate() (string, error) {
	path := r.cfg.Path
	how := "set --policy-test-runner to the keyway-proxy binary"
	if path == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("%w: find this executable: %v; %s", ErrNoRunner, err, how)
		}
		path = filepath.Join(filepath.Dir(exe), RunnerName)
		how = "install keyway-proxy beside keyway-control, or " + how
	}
	st, err := os.Stat(path)
	if err == nil && (st.IsDir() || st.Mode()&0o111 == 0) {
		err = errors.New("not an executable file")
	}
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v; %s, or push with --skip-tests", ErrNoRunner, path, err, how)
	}
	return path, nil
}

// Run runs p's test cases and returns every result, or Failures when any
// failed. A policy without cases needs no child and passes.
func (r *Runner) Run(ctx context.Context, p *keywayv1.Policy) ([]Result, error) {
	if len(p.GetTests()) == 0 {
		return nil, nil
	}
	path, err := r.Locate()
	if err != nil {
		return nil, err
	}
	in, err := proto.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("policy tests: encode policy: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	args := append(append([]string(nil), r.cfg.Args...),
		"-memory", strconv.FormatInt(r.cfg.MemoryLimit, 10),
		"-cpu", strconv.FormatInt(int64((r.cfg.CPULimit+time.Second-1)/time.Second), 10))
	cmd := exec.CommandContext(cctx, path, args...)
	cmd.Env = append(os.Environ(), r.cfg.Env...)
	cmd.Stdin = bytes.NewReader(in)
	out := &capped{max: maxOutput}
	errOut := &capped{max: maxStderr}
	cmd.Stdout, cmd.Stderr = out, errOut
	cmd.WaitDelay = time.Second
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("policy tests: %w", ctx.Err())
	}
	switch {
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
		return nil, fmt.Errorf("policy tests exceeded their time limit (%s)", r.cfg.Timeout)
	case out.over:
		return nil, fmt.Errorf("policy tests: the runner wrote more than %d MiB", maxOutput>>20)
	case runErr != nil:
		return nil, explain(runErr, errOut.Bytes(), r.cfg)
	}
	var results []Result
	if err := json.Unmarshal(out.Bytes(), &results); err != nil {
		return nil, fmt.Errorf("policy tests: decode the runner's answer: %w", err)
	}
	var failed Failures
	for _, res := range results {
		if !res.Pass {
			failed = append(failed, res)
		}
	}
	if len(failed) > 0 {
		return results, failed
	}
	return results, nil
}

// explain words why the child failed.
func explain(runErr error, stderr []byte, cfg Config) error {
	if bytes.Contains(stderr, []byte("out of memory")) || bytes.Contains(stderr, []byte("cannot allocate memory")) {
		return fmt.Errorf("policy tests exceeded their memory limit (%d MiB)", cfg.MemoryLimit>>20)
	}
	var ee *exec.ExitError
	if errors.As(runErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && (ws.Signal() == syscall.SIGXCPU || ws.Signal() == syscall.SIGKILL) {
			return fmt.Errorf("policy tests exceeded their CPU limit (%s)", cfg.CPULimit)
		}
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(stderr)), "\n")
	if line == "" {
		line = "no output"
	}
	return fmt.Errorf("policy tests: the runner failed: %w: %s", runErr, line)
}

// capped is a buffer that stops growing at max and drops the rest.
type capped struct {
	bytes.Buffer
	max  int
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); len(p) > room {
		c.over = true
		c.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return c.Buffer.Write(p)
}
