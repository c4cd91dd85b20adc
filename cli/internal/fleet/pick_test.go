package fleet_test

import (
	"strings"
	"testing"

	"keyway.dev/cli/internal/clitest"
)

// TestFleetNodes: NODE arguments narrow the table; an unknown one is an
// error that names the known proxies.
func TestFleetNodes(t *testing.T) {
	cp := clitest.Start(t)
	cp.SetNodes(nodes()...)
	r := clitest.Run(t, cp.Addr, "fleet", "proxy-2")
	if r.Code != 0 || !strings.Contains(r.Stdout, "proxy-2") || strings.Contains(r.Stdout, "proxy-1") {
		t.Errorf("fleet proxy-2: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	r = clitest.Run(t, cp.Addr, "fleet", "proxy-9")
	if r.Code != 1 || !strings.Contains(r.Stderr, `no proxy "proxy-9" in the fleet (known: proxy-1, proxy-2)`) {
		t.Errorf("fleet proxy-9: exit %d, stderr %q", r.Code, r.Stderr)
	}
}
