package policytest_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keyway.dev/cli/internal/clitest"
	"keyway.dev/cli/internal/local"
	"keyway.dev/cli/internal/policytest"
)

const policy = `main = redis("main", "127.0.0.1:6401")
sessions = redis("sessions", "127.0.0.1:6402")
domain("web", guard(
    route(routes = {"session:": sessions}, default = main),
    deny_commands = ["FLUSHALL"],
    key_prefixes = ["session:", "user:"],
))
identity(default_domain = "web")

test("sessions", "web", ["GET", "session:1"], expect_upstream = sessions)
test("users", "web", ["GET", "user:1"], expect_upstream = "main")
test("no flushing", "web", ["FLUSHALL"], expect_error = "deny_commands")
`

const failing = `
test("wrong upstream", "web", ["GET", "session:1"], expect_upstream = main)
test("outside prefixes", "web", ["GET", "cart:1"], expect_upstream = main)
`

func run(t *testing.T, args ...string) clitest.Result {
	t.Helper()
	return clitest.RunWith(t, local.Renderer{}, clitest.DeadAddr(t), args...)
}

func TestPolicyTest(t *testing.T) {
	good := clitest.WritePolicy(t, map[string]string{"main.star": policy})
	bad := clitest.WritePolicy(t, map[string]string{"main.star": policy + failing})
	broken := clitest.WritePolicy(t, map[string]string{"main.star": "domain(\"x\", nope)\n"})
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"all pass", []string{"policy", "test", good}, 0,
			[]string{"PASS  main.star:10:5  sessions  (web: GET session:1)", "PASS  main.star:12:5  no flushing", "3 passed, 0 failed"}, nil},
		{"failures with reasons and paths", []string{"policy", "test", bad}, 1,
			[]string{
				"FAIL  main.star:14:5  wrong upstream",
				`expected the command to reach upstream "main", but it reached "sessions"`,
				"path:",
				"upstream sessions",
				"FAIL  main.star:15:5  outside prefixes",
				`but it was refused: ERR keyway: key "cart:1" is outside this domain's key prefixes (session:, user:)`,
				"3 passed, 2 failed",
			},
			[]string{"error: 2 of 5 test cases failed"}},
		{"render error", []string{"policy", "test", broken}, 1, nil, []string{"main.star:1:", "nope"}},
		{"usage", []string{"policy", "test"}, 2, nil, []string{"takes 1 argument(s), got 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.args...)
			if r.Code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.Code, tt.code, r.Stdout, r.Stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(r.Stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, r.Stdout)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(r.Stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.Stderr)
				}
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		r := run(t, "policy", "test", bad, "-o", "json")
		if r.Code != 1 {
			t.Fatalf("exit %d: %s", r.Code, r.Stderr)
		}
		var rep policytest.Report
		if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
			t.Fatalf("decode: %v\n%s", err, r.Stdout)
		}
		if rep.Passed != 3 || rep.Failed != 2 || len(rep.Results) != 5 {
			t.Fatalf("report %+v", rep)
		}
		f := rep.Results[3]
		if f.Pass || f.Name != "wrong upstream" || f.Source != "main.star:14:5" || f.Upstream != "sessions" || len(f.Path) == 0 {
			t.Errorf("failed case %+v", f)
		}
	})
}

// TestExamples runs the test cases of every bundle in policies/examples,
// so CI fails when an example and its tests disagree.
func TestExamples(t *testing.T) {
	dirs, err := filepath.Glob("../../../policies/examples/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			r := run(t, "policy", "test", dir, "-o", "json")
			var rep policytest.Report
			if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
				t.Fatalf("exit %d, stderr %s, decode: %v", r.Code, r.Stderr, err)
			}
			if len(rep.Results) == 0 {
				t.Errorf("%s has no test cases", dir)
			}
			for _, res := range rep.Results {
				if !res.Pass {
					t.Errorf("%s %s: %s", res.Source, res.Name, res.Reason)
				}
			}
			if r.Code != 0 {
				t.Errorf("exit %d: %s", r.Code, r.Stderr)
			}
		})
	}
}
