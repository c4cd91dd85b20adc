package policy_test

import (
	"testing"

	"keyway.dev/cli/internal/clitest"
	"keyway.dev/cli/internal/policy"
)

func TestPush(t *testing.T) {
	dir := clitest.WritePolicy(t, map[string]string{"main.star": good})
	broken := clitest.WritePolicy(t, map[string]string{"main.star": "error undefined: clustr\n"})

	t.Run("first push, then on top of the head", func(t *testing.T) {
		cp := clitest.Start(t)
		check{args: []string{"policy", "push", dir, "-m", "first"}, stdout: []string{"pushed v1 (first version): first\n"}}.run(t, cp.Addr)
		check{args: []string{"policy", "push", "-m", "second", dir}, stdout: []string{"pushed v2 (parent v1): second\n"}}.run(t, cp.Addr)
		pushes := cp.Pushes()
		if len(pushes) != 2 || pushes[0].GetParent() != 0 || pushes[1].GetParent() != 1 {
			t.Fatalf("parents sent: %v", pushes)
		}
		if got := pushes[1].GetAuthor(); got != "alice@host1" {
			t.Errorf("default author = %q, want alice@host1", got)
		}
		if got := string(pushes[1].GetBundle().GetFiles()["main.star"]); got != good {
			t.Errorf("bundle sent = %q", got)
		}
	})

	t.Run("explicit parent that lost the race is a conflict", func(t *testing.T) {
		cp := clitest.Start(t)
		cp.Seed("one", "two")
		c := check{
			args:   []string{"policy", "push", dir, "-m", "late", "--parent", "v1"},
			code:   1,
			stderr: []string{"conflict: head is v2, not v1: someone pushed first", "--force"},
		}
		c.run(t, cp.Addr)
		if r := clitest.Run(t, cp.Addr, "policy", "history", "-o", "json"); !contains(r.Stdout, `"head": 2`) {
			t.Errorf("a conflicting push stored something:\n%s", r.Stdout)
		}
	})

	t.Run("force and author flags reach the control plane", func(t *testing.T) {
		cp := clitest.Start(t)
		cp.Seed("one", "two")
		check{
			args:   []string{"policy", "push", dir, "-m", "forced", "--parent", "1", "--force", "--author", "bob", "--no-activate"},
			stdout: []string{"pushed v3 (parent v2, not activated): forced"},
		}.run(t, cp.Addr)
		p := cp.Pushes()[0]
		if !p.GetForce() || p.GetAuthor() != "bob" || p.GetParent() != 1 || !p.GetNoActivate() {
			t.Errorf("push request = %v", p)
		}
	})

	t.Run("json", func(t *testing.T) {
		cp := clitest.Start(t)
		cp.Seed("one")
		r := check{args: []string{"policy", "push", dir, "--message", "two", "-o", "json"}}.run(t, cp.Addr)
		v := decode[policy.VersionJSON](t, r.Stdout)
		if v.Version != 2 || v.Name != "v2" || v.Parent != 1 || !v.Active || v.Message != "two" || v.Author != "alice@host1" || len(v.Domains) != 2 {
			t.Errorf("push json = %+v", v)
		}
	})

	cp := clitest.Start(t)
	for _, c := range []check{
		{
			name:   "local render error stops the push",
			args:   []string{"policy", "push", broken, "-m", "x"},
			code:   1,
			stderr: []string{"main.star:1:7: undefined: clustr"},
		},
		{
			name:   "message required",
			args:   []string{"policy", "push", dir},
			code:   2,
			stderr: []string{"a message is required", "Run 'keyway policy push --help'"},
		},
		{
			name:   "bad parent",
			args:   []string{"policy", "push", dir, "-m", "x", "--parent", "head"},
			code:   2,
			stderr: []string{`bad version "head"`},
		},
		{
			name:   "unknown flag",
			args:   []string{"policy", "push", dir, "-m", "x", "--frce"},
			code:   2,
			stderr: []string{"unknown flag: --frce; did you mean --force?"},
		},
		{
			name:   "control plane down",
			args:   []string{"--addr", clitest.DeadAddr(t), "policy", "push", dir, "-m", "x"},
			code:   1,
			stderr: []string{"cannot reach the control plane at 127.0.0.1:", "is keyway-control running? start one with `make demo`"},
		},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, cp.Addr) })
	}
	if n := len(cp.Pushes()); n != 0 {
		t.Errorf("failed pushes reached the control plane %d times", n)
	}
}

func TestPushRunsTheTests(t *testing.T) {
	failing := clitest.WritePolicy(t, map[string]string{"main.star": "upstream main\ndomain default\ntest reads\ntest fail-writes\ntest fail-deletes\n"})

	t.Run("a failing case refuses the push", func(t *testing.T) {
		cp := clitest.Start(t)
		check{
			args: []string{"policy", "push", failing, "-m", "broken"},
			code: 1,
			stderr: []string{
				"2 test case(s) of the policy failed",
				`main.star:4:1: test "fail-writes"`,
				`main.star:5:1: test "fail-deletes"`,
				"reached upstream main, want cache",
				"nothing pushed", "--skip-tests",
			},
		}.run(t, cp.Addr)
		if n := len(cp.Pushes()); n != 0 {
			t.Errorf("%d pushes reached the control plane, want none", n)
		}
	})

	t.Run("--skip-tests pushes and tells the control plane", func(t *testing.T) {
		cp := clitest.Start(t)
		check{args: []string{"policy", "push", failing, "-m", "hotfix", "--skip-tests"}, stdout: []string{"pushed v1"}}.run(t, cp.Addr)
		if p := cp.Pushes(); len(p) != 1 || !p[0].GetSkipTests() {
			t.Errorf("push requests = %v, want one with skip_tests", p)
		}
	})

	t.Run("passing cases push without skip_tests", func(t *testing.T) {
		cp := clitest.Start(t)
		dir := clitest.WritePolicy(t, map[string]string{"main.star": good})
		check{args: []string{"policy", "push", dir, "-m", "fine"}, stdout: []string{"pushed v1"}}.run(t, cp.Addr)
		if p := cp.Pushes(); len(p) != 1 || p[0].GetSkipTests() {
			t.Errorf("push requests = %v, want one without skip_tests", p)
		}
	})
}
