package policy_test

import (
	"path/filepath"
	"testing"

	"keyway.dev/cli/internal/clitest"
	"keyway.dev/cli/internal/policy"
)

func TestValidate(t *testing.T) {
	cp := clitest.Start(t)
	ok := clitest.WritePolicy(t, map[string]string{"main.star": good})
	broken := clitest.WritePolicy(t, map[string]string{"main.star": "upstream a\n  error undefined: clustr\n", "lib.star": "error bad lib\n"})
	remoteBad := clitest.WritePolicy(t, map[string]string{"main.star": good, "remote-only-error.star": "# fine locally\n"})
	for _, c := range []check{
		{
			name:   "summary",
			args:   []string{"policy", "validate", ok},
			stdout: []string{ok + ": ok", "domains:    2 (default, sessions)", "upstreams:  2 (cache, main)", "tests:      1"},
		},
		{
			name:   "single file",
			args:   []string{"policy", "validate", filepath.Join(ok, "main.star")},
			stdout: []string{"main.star: ok"},
		},
		{
			name:   "errors with positions, one per line",
			args:   []string{"policy", "validate", broken},
			code:   1,
			stderr: []string{"error: lib.star:1:7: bad lib\n", "error: main.star:2:9: undefined: clustr\n"},
		},
		{
			name:   "remote ok",
			args:   []string{"policy", "validate", ok, "--remote"},
			stdout: []string{"remote:     ok (" + cp.Addr + ")"},
		},
		{
			name:   "remote refuses what local accepts",
			args:   []string{"policy", "validate", "--remote", remoteBad},
			code:   1,
			stderr: []string{"remote-only-error.star:1:1: refused by the control plane"},
		},
		{
			name:   "remote unreachable",
			args:   []string{"--addr", clitest.DeadAddr(t), "policy", "validate", ok, "--remote"},
			code:   1,
			stderr: []string{"cannot reach the control plane at 127.0.0.1:", "make demo"},
		},
		{
			name:   "missing path",
			args:   []string{"policy", "validate", filepath.Join(ok, "nope")},
			code:   1,
			stderr: []string{"nope", "no such file"},
		},
		{
			name:   "no path is a usage error",
			args:   []string{"policy", "validate"},
			code:   2,
			stderr: []string{"takes 1 argument(s), got 0", "Run 'keyway policy validate --help'"},
		},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, cp.Addr) })
	}

	t.Run("json", func(t *testing.T) {
		r := check{args: []string{"policy", "validate", ok, "-o", "json"}}.run(t, cp.Addr)
		s := decode[policy.Summary](t, r.Stdout)
		if !s.OK || s.Tests != 1 || len(s.Domains) != 2 || s.Domains[0] != "default" || s.Entry != "main.star" || s.Files != 1 {
			t.Errorf("summary = %+v", s)
		}
	})
	t.Run("json error", func(t *testing.T) {
		r := check{args: []string{"policy", "validate", broken, "-o", "json"}, code: 1}.run(t, cp.Addr)
		s := decode[policy.Summary](t, r.Stdout)
		if s.OK || !contains(s.Error, "main.star:2:9: undefined: clustr") {
			t.Errorf("summary = %+v", s)
		}
	})
}
