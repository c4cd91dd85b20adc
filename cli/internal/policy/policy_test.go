package policy_test

import (
	"encoding/json"
	"strings"
	"testing"

	"keyway.dev/cli/internal/clitest"
)

const good = "upstream main\nupstream cache\ndomain sessions\ndomain default\ntest get-hits-cache\n"

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// check runs keyway and asserts the exit code and what stdout and stderr
// contain.
type check struct {
	name   string
	args   []string
	code   int
	stdout []string
	stderr []string
}

func (c check) run(t *testing.T, addr string) clitest.Result {
	t.Helper()
	r := clitest.Run(t, addr, c.args...)
	if r.Code != c.code {
		t.Fatalf("keyway %v: exit %d, want %d\nstdout: %s\nstderr: %s", c.args, r.Code, c.code, r.Stdout, r.Stderr)
	}
	for _, s := range c.stdout {
		if !strings.Contains(r.Stdout, s) {
			t.Errorf("keyway %v: stdout lacks %q:\n%s", c.args, s, r.Stdout)
		}
	}
	for _, s := range c.stderr {
		if !strings.Contains(r.Stderr, s) {
			t.Errorf("keyway %v: stderr lacks %q:\n%s", c.args, s, r.Stderr)
		}
	}
	return r
}

func decode[T any](t *testing.T, out string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	return v
}
