package testrun

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// childEnv makes this test binary act as the runner: a case whose name
// starts with "fail" fails, "crash" exits 1, "hang" never answers.
const childEnv = "TESTRUN_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" && len(os.Args) > 1 && os.Args[1] == Subcommand {
		os.Exit(Child(os.Args[2:], os.Stdin, os.Stdout, os.Stderr, fakeRun))
	}
	os.Exit(m.Run())
}

func fakeRun(_ context.Context, p *keywayv1.Policy) []Result {
	var out []Result
	for _, c := range p.GetTests() {
		switch {
		case c.GetName() == "crash":
			os.Stderr.WriteString("the engine tree panicked\n")
			os.Exit(1)
		case c.GetName() == "hang":
			select {}
		}
		r := Result{Name: c.GetName(), Source: c.GetSource(), Domain: c.GetDomain(), Command: c.GetCommand(), Pass: true}
		if strings.HasPrefix(c.GetName(), "fail") {
			r.Pass, r.Reason = false, "reached upstream b, want a\n  path: route -> b"
		}
		out = append(out, r)
	}
	return out
}

func runner(t *testing.T, cfg Config) *Runner {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Path == "" {
		cfg.Path = exe
	}
	cfg.Env = append(cfg.Env, childEnv+"=1")
	return New(cfg)
}

func policy(names ...string) *keywayv1.Policy {
	p := &keywayv1.Policy{}
	for i, n := range names {
		p.Tests = append(p.Tests, &keywayv1.PolicyTest{
			Name: n, Domain: "default", Command: []string{"GET", "k"},
			Source: "main.star:" + string(rune('1'+i)) + ":1",
		})
	}
	return p
}

func TestRunPasses(t *testing.T) {
	res, err := runner(t, Config{}).Run(context.Background(), policy("reads", "writes"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || !res[0].Pass || res[1].Name != "writes" || res[1].Source != "main.star:2:1" {
		t.Errorf("results = %+v", res)
	}
}

func TestRunFailuresNameEachCase(t *testing.T) {
	res, err := runner(t, Config{}).Run(context.Background(), policy("reads", "fail one", "fail two"))
	var f Failures
	if !errors.As(err, &f) || len(f) != 2 {
		t.Fatalf("err = %v, want 2 Failures", err)
	}
	if len(res) != 3 {
		t.Errorf("%d results, want all 3", len(res))
	}
	msg := err.Error()
	for _, want := range []string{
		"2 test case(s) of the policy failed",
		`main.star:2:1: test "fail one" (default: GET k): reached upstream b, want a`,
		`main.star:3:1: test "fail two"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "path: route") {
		t.Errorf("error %q carries the whole reason; one line per case is wanted", msg)
	}
}

func TestNoCasesNeedsNoRunner(t *testing.T) {
	r := New(Config{Path: filepath.Join(t.TempDir(), "absent")})
	if res, err := r.Run(context.Background(), policy()); err != nil || res != nil {
		t.Errorf("Run without cases = %v, %v; want nothing", res, err)
	}
}

func TestMissingRunnerSaysHowToFix(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "keyway-proxy")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		want       []string
	}{
		{"absent", filepath.Join(dir, "nope"), []string{"nope", "no such file", "--policy-test-runner", "--skip-tests"}},
		{"not executable", notExec, []string{"not an executable file", "--policy-test-runner", "--skip-tests"}},
		{"a directory", dir, []string{"not an executable file"}},
		// The default looks beside this executable, a test binary with
		// no keyway-proxy next to it.
		{"default", "", []string{"keyway-proxy", "install keyway-proxy beside keyway-control", "--policy-test-runner", "--skip-tests"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{Path: tc.path}).Run(context.Background(), policy("reads"))
			if !errors.Is(err, ErrNoRunner) {
				t.Fatalf("err = %v, want ErrNoRunner", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestRunnerCrashIsExplained(t *testing.T) {
	_, err := runner(t, Config{}).Run(context.Background(), policy("crash"))
	if err == nil || !strings.Contains(err.Error(), "the runner failed") || !strings.Contains(err.Error(), "the engine tree panicked") {
		t.Errorf("err = %v, want the runner's failure with its stderr", err)
	}
}

func TestRunnerThatNeverAnswersIsStopped(t *testing.T) {
	_, err := runner(t, Config{Timeout: 200 * time.Millisecond}).Run(context.Background(), policy("hang"))
	if err == nil || !strings.Contains(err.Error(), "exceeded their time limit (200ms)") {
		t.Errorf("err = %v, want the time limit", err)
	}
}

func TestChildRefusesBadInput(t *testing.T) {
	var out, errOut strings.Builder
	if code := Child([]string{"-memory", "x"}, strings.NewReader(""), &out, &errOut, fakeRun); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
	// Past the flags the child limits its own process, so a bad policy
	// is tried in a child process.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, Subcommand)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdin = strings.NewReader("\xff\xff")
	b, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(string(b), "decode policy") {
		t.Errorf("garbage policy: %v, %q; want exit 3 and decode policy", err, b)
	}
}
