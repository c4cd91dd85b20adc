package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"keyway.dev/integration/harness"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// testedPolicy declares one case that holds and, when broken, one that
// does not (users are expected on sessions).
func testedPolicy(broken bool) string {
	src := `main = redis("main", "127.0.0.1:6401")
sessions = redis("sessions", "127.0.0.1:6402")
domain("default", route(routes = {"session:": sessions}, default = main))
test("sessions go to sessions", "default", ["GET", "session:1"], expect_upstream = sessions)
`
	if broken {
		src += `test("users wrongly expected on sessions", "default", ["GET", "user:1"], expect_upstream = sessions)
`
	}
	return src
}

// TestPushRunsTheTests: `keyway policy push` refuses a bundle whose own
// test cases fail; the control plane refuses it too when pushed through
// the API (its cases run in keyway-proxy beside keyway-control); the
// escape hatch --skip-tests stores it and the audit log says so.
func TestPushRunsTheTests(t *testing.T) {
	cp := harness.StartControl(t, "", "")
	broken := harness.WritePolicy(t, map[string]string{"main.star": testedPolicy(true)})
	want := []string{`main.star:5:5: test "users wrongly expected on sessions"`, "--skip-tests"}

	r := harness.CLI(t, cp.Addr, "policy", "push", broken, "-m", "broken")
	if r.Code != 1 {
		t.Fatalf("push of a failing bundle: exit %d, %q %q; want 1", r.Code, r.Stdout, r.Stderr)
	}
	harness.Contains(t, "push refusal", r.Stderr, append(want, "nothing pushed")...)

	// The same bundle straight through the API, as a script would send it.
	bundle := &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte(testedPolicy(true))}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := cp.Policies().Push(ctx, &keywayv1.PushRequest{Bundle: bundle, Message: "api", Author: "script"})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("API push of a failing bundle: %v, want InvalidArgument", err)
	}
	harness.Contains(t, "API refusal", status.Convert(err).Message(), append(want, "nothing stored")...)

	var h struct {
		Head uint64 `json:"head"`
	}
	decode(t, kw(t, cp, "policy", "history", "-o", "json"), &h)
	if h.Head != 0 {
		t.Fatalf("a refused push stored v%d", h.Head)
	}

	// A passing bundle goes through both runs.
	good := harness.WritePolicy(t, map[string]string{"main.star": testedPolicy(false)})
	harness.Contains(t, "passing push", kw(t, cp, "policy", "push", good, "-m", "good"), "pushed v1")

	harness.Contains(t, "skipped push", kw(t, cp, "policy", "push", broken, "-m", "emergency", "--skip-tests"), "pushed v2")
	harness.Contains(t, "audit", kw(t, cp, "audit"), "pushed and activated v2 on v1: emergency [policy tests skipped]")
}

// TestPushWithoutRunner: a control plane that cannot find keyway-proxy
// refuses pushes with test cases and says how to fix it; --skip-tests and
// bundles without cases still go through.
func TestPushWithoutRunner(t *testing.T) {
	missing := t.TempDir() + "/keyway-proxy"
	cp := harness.StartControlWith(t, harness.ControlOptions{Args: []string{"--policy-test-runner", missing}})
	good := harness.WritePolicy(t, map[string]string{"main.star": testedPolicy(false)})
	r := harness.CLI(t, cp.Addr, "policy", "push", good, "-m", "good")
	if r.Code != 1 {
		t.Fatalf("push without a runner: exit %d, %q %q; want 1", r.Code, r.Stdout, r.Stderr)
	}
	harness.Contains(t, "refusal", r.Stderr, "policy test runner is missing", missing, "--policy-test-runner", "--skip-tests")
	harness.Contains(t, "skipped push", kw(t, cp, "policy", "push", good, "-m", "good", "--skip-tests"), "pushed v1")
	plain := harness.WritePolicy(t, map[string]string{"main.star": strings.SplitAfter(testedPolicy(false), "\n")[0] + `domain("default", main)` + "\n"})
	harness.Contains(t, "push without cases", kw(t, cp, "policy", "push", plain, "-m", "plain"), "pushed v2")
}
