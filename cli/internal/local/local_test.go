package local_test

import (
	"regexp"
	"strings"
	"testing"

	"keyway.dev/cli/internal/clitest"
	"keyway.dev/cli/internal/local"
)

// TestValidateWithTheRealRenderer runs `keyway policy validate` on the
// repository's quickstart example and on broken Starlark, through
// controlplane/render.
func TestValidateWithTheRealRenderer(t *testing.T) {
	broken := clitest.WritePolicy(t, map[string]string{
		"main.star": "main = redis(\"main\", \"127.0.0.1:6401\")\ndomain(\"default\", rout(routes = {}, default = main))\n",
	})
	for _, tc := range []struct {
		name string
		path string
		code int
		out  *regexp.Regexp
	}{
		{"bundle with load()", "testdata/twodomains", 0,
			regexp.MustCompile(`twodomains: ok\n  domains:    2 \(default, sessions\)\n  upstreams:  2 \(cache, main\)\n  tests:      2\n`)},
		{"the quickstart example", "../../../policies/examples/quickstart", 0, regexp.MustCompile(`quickstart: ok\n  domains: `)},
		{"undefined name", broken, 1, regexp.MustCompile(`error: main\.star:2:\d+: .*rout`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := clitest.RunWith(t, local.Renderer{}, clitest.DeadAddr(t), "policy", "validate", tc.path)
			if r.Code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.Code, tc.code, r.Stdout, r.Stderr)
			}
			if got := r.Stdout + r.Stderr; !tc.out.MatchString(got) {
				t.Errorf("output does not match %s:\n%s", tc.out, got)
			}
			if strings.Contains(r.Stderr, "cannot reach") {
				t.Errorf("validate without --remote called the control plane: %s", r.Stderr)
			}
		})
	}
}
