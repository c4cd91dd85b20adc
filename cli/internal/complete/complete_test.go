package complete_test

import (
	"strings"
	"testing"

	"keyway.dev/cli/internal/clitest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// TestCompletion asks the fake control plane, as a shell's completion
// function would through `keyway __complete`.
func TestCompletion(t *testing.T) {
	cp := clitest.Start(t)
	cp.Seed("one", "two", "three")
	cp.SetNodes(&keywayv1.Node{Id: "proxy-a"}, &keywayv1.Node{Id: "proxy-b"})
	for _, tc := range []struct {
		args      []string
		want, not []string
	}{
		{[]string{"policy", "show", ""}, []string{"v1\n", "v2\n", "v3\n"}, nil},
		{[]string{"policy", "show", "v3", ""}, nil, []string{"v1"}},
		{[]string{"policy", "diff", "v1", ""}, []string{"v2\n"}, nil},
		{[]string{"rollout", "start", "--to", "v"}, []string{"v3\n"}, nil},
		{[]string{"fleet", "proxy-a", ""}, []string{"proxy-b\n"}, []string{"proxy-a"}},
		{[]string{"fleet", "proxy-"}, []string{"proxy-a\n", "proxy-b\n"}, nil},
	} {
		r := clitest.Run(t, cp.Addr, append([]string{"__complete"}, tc.args...)...)
		if r.Code != 0 {
			t.Fatalf("__complete %v: exit %d %s", tc.args, r.Code, r.Stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.Stdout, w) {
				t.Errorf("__complete %q: lacks %q:\n%s", tc.args, w, r.Stdout)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(r.Stdout, n) {
				t.Errorf("__complete %q: has %q:\n%s", tc.args, n, r.Stdout)
			}
		}
	}
	// An unreachable control plane completes nothing and says nothing.
	r := clitest.Run(t, clitest.DeadAddr(t), "__complete", "policy", "show", "")
	if r.Code != 0 || strings.Contains(r.Stdout, "v1") || strings.Contains(r.Stdout, "error") {
		t.Errorf("__complete against a dead control plane: exit %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
}
