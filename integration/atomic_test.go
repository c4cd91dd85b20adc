package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"keyway.dev/dataplane/redistest"
	"keyway.dev/integration/harness"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// policyLocked is issue 18's repro: v1 plus a redis whose password comes
// from an environment variable no proxy has, a domain "web" on it, and
// "web" as the default domain. It renders, but no proxy can build "web".
func policyLocked(a string) string {
	return fmt.Sprintf(`
a = redis("a", address = %q)
locked = redis("locked", address = %q, credentials = credentials(password = env("KEYWAY_TEST_UNSET_ISSUE_18")))
domain("default", a)
domain("web", locked)
identity(default_domain = "web")
`, a, a)
}

// TestRefusedVersionChangesNothing pushes a version a proxy cannot build
// whole and checks that nothing of it reaches the proxy: every command
// keeps working on v1, the fleet and keyway_policy_info say v1 for every
// resource type, and a proxy restarted from its --state-dir while the
// control plane is down serves v1.
func TestRefusedVersionChangesNothing(t *testing.T) {
	ctx := context.Background()
	r := redistest.Start(t)
	cp := harness.StartControl(t, "", "")
	stateDir := t.TempDir()
	p := harness.StartProxy(t, "proxy-atomic", cp.Addr, "--state-dir", stateDir)
	c := client(t, p.Addr)

	v1 := harness.WritePolicy(t, map[string]string{"main.star": fmt.Sprintf("a = redis(\"a\", address = %q)\ndomain(\"default\", a)\n", r.Addr)})
	mustPush(t, cp, v1, "v1")
	waitApplied(t, cp, "v1", p)
	if err := c.Set(ctx, "k", "v1", 0).Err(); err != nil {
		t.Fatalf("SET on v1: %v", err)
	}

	v2 := harness.WritePolicy(t, map[string]string{"main.star": policyLocked(r.Addr)})
	mustPush(t, cp, v2, "v2: web on a locked redis")
	var node *keywayv1.Node
	harness.Eventually(t, 30*time.Second, "v2 NACKed", func() error {
		n, err := fleetNode(cp, p.NodeID)
		if err != nil {
			return err
		}
		if !strings.Contains(n.GetLastNack().GetError(), "KEYWAY_TEST_UNSET_ISSUE_18") {
			return fmt.Errorf("last NACK %q", n.GetLastNack().GetError())
		}
		node = n
		return nil
	})
	for typ, v := range node.GetApplied() {
		if typ != "Flag" && !strings.HasPrefix(v, "v1-") {
			t.Errorf("fleet: %s applied %q, want v1's", typ, v)
		}
	}
	if node.GetPolicyVersion() != "v1" {
		t.Errorf("fleet: policy version %q, want v1", node.GetPolicyVersion())
	}
	if v := policyInfo(t, p); v != "v1" {
		t.Errorf("keyway_policy_info version %q, want v1", v)
	}
	for i := range 200 {
		if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v1" {
			t.Fatalf("GET %d after the refusal = %q, %v", i, got, err)
		}
	}

	// Restarted from its state dir with the control plane down, the proxy
	// serves what it ran: v1, not the refused version.
	p.Stop()
	cp.Stop()
	p2 := harness.StartProxy(t, "proxy-atomic", cp.Addr, "--state-dir", stateDir)
	harness.Eventually(t, 10*time.Second, "restarted proxy ready", p2.Ready)
	c2 := client(t, p2.Addr)
	if got, err := c2.Get(ctx, "k").Result(); err != nil || got != "v1" {
		t.Fatalf("GET after a restart from the state dir = %q, %v", got, err)
	}
	if v := policyInfo(t, p2); v != "v1" {
		t.Errorf("restarted: keyway_policy_info version %q, want v1", v)
	}
}

func fleetNode(cp *harness.Control, id string) (*keywayv1.Node, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := cp.Fleet().ListNodes(ctx, &keywayv1.ListNodesRequest{})
	if err != nil {
		return nil, err
	}
	for _, n := range resp.GetNodes() {
		if n.GetId() == id {
			return n, nil
		}
	}
	return nil, fmt.Errorf("node %s not in the fleet", id)
}

var policyInfoRE = regexp.MustCompile(`(?m)^keyway_policy_info\{version="([^"]*)"\} 1$`)

// policyInfo is the version keyway_policy_info reports on p's /metrics.
func policyInfo(t *testing.T, p *harness.Proxy) string {
	t.Helper()
	resp, err := http.Get("http://" + p.Admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := policyInfoRE.FindSubmatch(body)
	if m == nil {
		return ""
	}
	return string(m[1])
}
