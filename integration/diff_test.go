package integration

import (
	"strings"
	"testing"

	"keyway.dev/integration/harness"
)

// TestDiffAgainstABundle: `keyway policy diff [V] PATH` shows what
// pushing the working copy would change, rendered by the control plane;
// nothing is stored.
func TestDiffAgainstABundle(t *testing.T) {
	cp := harness.StartControl(t, "", "")
	v1 := harness.WritePolicy(t, map[string]string{"main.star": cliPolicy("v1")})
	v2 := harness.WritePolicy(t, map[string]string{"main.star": cliPolicy("v2")})
	kw(t, cp, "policy", "push", v1, "-m", "first")
	harness.Contains(t, "diff PATH", kw(t, cp, "policy", "diff", v2),
		"==> sources: v1 -> "+v2+" <==", "--- v1/main.star", "+++ local/main.star", "-# v1", "+# v2")
	harness.Contains(t, "diff V PATH, same content", kw(t, cp, "policy", "diff", "v1", v1), "v1 and "+v1+" are identical")
	if r := harness.CLI(t, cp.Addr, "policy", "diff", "v7", v2); r.Code != 1 {
		t.Errorf("diff from a missing version: exit %d %q", r.Code, r.Stderr)
	}
	if h := kw(t, cp, "policy", "history"); strings.Contains(h, "v2 ") {
		t.Errorf("a diff stored a version:\n%s", h)
	}
}
