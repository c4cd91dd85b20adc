package policy_test

import (
	"testing"

	"keyway.dev/cli/internal/clitest"
	"keyway.dev/cli/internal/policy"
)

// TestDiffBundle: a stored version against a local bundle, and the
// active version when none is named; a bundle that does not render
// fails before anything is sent.
func TestDiffBundle(t *testing.T) {
	cp := clitest.Start(t)
	cp.Seed("one", "two", "three")
	dir := clitest.WritePolicy(t, map[string]string{"main.star": good})
	check{args: []string{"policy", "diff", "v1", dir}, stdout: []string{
		"==> sources: v1 -> " + dir + " <==\n--- v1/main.star\n+++ local/main.star\n",
		"==> rendered: v1 -> " + dir + " <==",
	}}.run(t, cp.Addr)
	check{args: []string{"policy", "diff", dir}, stdout: []string{"==> sources: v3 -> " + dir + " <=="}}.run(t, cp.Addr)
	r := check{args: []string{"policy", "diff", dir, "-o", "json"}}.run(t, cp.Addr)
	if j := decode[policy.DiffJSON](t, r.Stdout); j.From != 3 || j.To != 0 || j.Path != dir || j.Sources == "" {
		t.Errorf("diff PATH -o json = %+v", j)
	}
	check{args: []string{"policy", "diff", "v9", dir}, code: 1, stderr: []string{"error: no version v9\n"}}.run(t, cp.Addr)
	broken := clitest.WritePolicy(t, map[string]string{"main.star": "error undefined: clustr\n"})
	check{args: []string{"policy", "diff", "v1", broken}, code: 1, stderr: []string{"main.star:1:7: undefined: clustr"}}.run(t, cp.Addr)
}
