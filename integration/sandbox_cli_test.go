package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"keyway.dev/integration/harness"
)

// bombPolicy doubles a string 40 times: a terabyte, were it allowed.
const bombPolicy = `def bomb():
    s = "a"
    for i in range(40):
        s = s + s
    return s

bomb()
main = redis("main", "127.0.0.1:6401")
domain("default", main)
`

// TestCLIRendersInTheSandbox: the keyway CLI renders a policy under
// review in the same limited child process as keyway-control, so the
// memory bomb of the security review fails validate, test and push
// locally with the control plane's own error, and the CLI (with its
// child) stays far below what the bomb asks for: the child is stopped by
// its limit.
func TestCLIRendersInTheSandbox(t *testing.T) {
	dir := harness.WritePolicy(t, map[string]string{"main.star": bombPolicy})
	const want = "policy rendering exceeded its memory limit (256 MiB)"
	for _, args := range [][]string{
		{"policy", "validate", dir},
		{"policy", "test", dir},
		// The local render refuses before anything is sent.
		{"policy", "push", dir, "--message", "bomb", "--addr", "127.0.0.1:1"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, harness.Build(t).CLI, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		cancel()
		if _, ok := err.(*exec.ExitError); !ok || cmd.ProcessState.ExitCode() != 1 {
			t.Fatalf("keyway %s: %v, want exit 1\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out.String(), errb.String())
		}
		if got := out.String() + errb.String(); !strings.Contains(got, want) {
			t.Errorf("keyway %s said %q, want %q", strings.Join(args, " "), got, want)
		}
		if strings.Contains(errb.String(), "cannot reach") {
			t.Errorf("keyway %s contacted the control plane: %s", strings.Join(args, " "), errb.String())
		}
		// ru_maxrss of the CLI, which counts the child it waited for:
		// the limit plus the runtime, nowhere near the bomb's gigabytes.
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > 512<<10 {
			t.Errorf("keyway %s peaked at %d MiB resident; the sandbox should have stopped the render at 256 MiB", strings.Join(args, " "), ru.Maxrss>>10)
		}
	}

	// keyway-control's sandbox says the same.
	cp := harness.StartControl(t, "", "")
	r := harness.CLI(t, cp.Addr, "policy", "validate", "--remote", dir)
	if r.Code == 0 || !strings.Contains(r.Stdout+r.Stderr, want) {
		t.Errorf("validate --remote: exit %d, %q %q; want %q from the control plane", r.Code, r.Stdout, r.Stderr, want)
	}
}
