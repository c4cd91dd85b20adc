package integration

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"keyway.dev/integration/harness"
)

// TestWatch: `keyway fleet --watch` and `keyway rollout status --watch`
// print frame after frame into a pipe, without terminal control codes,
// until interrupted, which is a normal end (exit 0).
func TestWatch(t *testing.T) {
	cp := harness.StartControl(t, "", "")
	dir := harness.WritePolicy(t, map[string]string{"main.star": cliPolicy("watch")})
	kw(t, cp, "policy", "push", dir, "-m", "watch")
	for _, tc := range []struct {
		args  []string
		frame string // a line every frame has
	}{
		{[]string{"fleet", "--watch", "--interval", "50ms"}, "no proxies have connected"},
		{[]string{"rollout", "status", "--domain", "default", "--watch", "--interval", "50ms"}, "rollout:"},
		{[]string{"fleet", "--watch", "--interval", "50ms", "-o", "json"}, `"nodes": [`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, harness.Build(t).CLI, tc.args...)
			cmd.Env = append(os.Environ(), "KEYWAY_ADDR="+cp.Addr, "HOME="+t.TempDir())
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			frames := 0
			var seen strings.Builder
			sc := bufio.NewScanner(out)
			for frames < 3 && sc.Scan() {
				line := sc.Text()
				seen.WriteString(line + "\n")
				if strings.Contains(line, tc.frame) {
					frames++
				}
			}
			if frames < 3 {
				t.Fatalf("saw %d frames:\n%s\nstderr: %s", frames, seen.String(), stderr.String())
			}
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			for sc.Scan() {
				seen.WriteString(sc.Text() + "\n")
			}
			if err := cmd.Wait(); err != nil {
				t.Errorf("after an interrupt: %v (want exit 0)\nstderr: %s", err, stderr.String())
			}
			if strings.Contains(seen.String(), "\x1b") {
				t.Errorf("terminal control codes in a pipe:\n%q", seen.String())
			}
			if strings.Contains(stderr.String(), "error") {
				t.Errorf("stderr: %s", stderr.String())
			}
		})
	}
}
