package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keyway.dev/integration/harness"
)

// TestContexts: one config file, two control planes; --context picks one
// for a command, `config use-context` switches for the next ones.
func TestContexts(t *testing.T) {
	prod := harness.StartControl(t, "", "")
	dev := harness.StartControl(t, "", "")
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	body := fmt.Sprintf("# two control planes\ncontexts:\n  prod:\n    address: %s\n  dev:\n    address: %s\ncurrent-context: dev\n", prod.Addr, dev.Addr)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"KEYWAY_CONFIG=" + cfg}
	ok := func(args ...string) string {
		t.Helper()
		r := keyway(t, env, args...)
		if r.Code != 0 {
			t.Fatalf("keyway %s: exit %d\n%s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
		}
		return r.Stdout
	}
	dir := harness.WritePolicy(t, map[string]string{"main.star": cliPolicy("prod only")})
	harness.Contains(t, "push to prod", ok("--context", "prod", "policy", "push", dir, "-m", "prod only"), "pushed v1")
	harness.Contains(t, "dev is current", ok("policy", "history"), "no versions")
	harness.Contains(t, "get-contexts", ok("config", "get-contexts"), "CURRENT", "*        dev", prod.Addr)
	harness.Contains(t, "current-context", ok("config", "current-context"), "dev\n")

	harness.Contains(t, "use-context", ok("config", "use-context", "prod"), `switched to context "prod"`)
	harness.Contains(t, "prod is current", ok("policy", "history"), "prod only")
	var l struct {
		Current  string `json:"current"`
		Contexts []struct {
			Name    string `json:"name"`
			Current bool   `json:"current"`
		} `json:"contexts"`
	}
	if err := json.Unmarshal([]byte(ok("config", "get-contexts", "-o", "json")), &l); err != nil || l.Current != "prod" || len(l.Contexts) != 2 || !l.Contexts[1].Current {
		t.Errorf("get-contexts -o json = %+v, %v", l, err)
	}
	if b, _ := os.ReadFile(cfg); !strings.Contains(string(b), "# two control planes") {
		t.Errorf("use-context lost the file's comment:\n%s", b)
	}
	harness.Contains(t, "context completion", ok("__complete", "config", "use-context", ""), "dev\n", "prod\n")
	harness.Contains(t, "--context completion", ok("__complete", "--context", "p"), "prod\n")

	r := keyway(t, env, "--context", "staging", "fleet")
	if r.Code != 1 || !strings.Contains(r.Stderr, `no context "staging"`) || !strings.Contains(r.Stderr, "contexts: dev, prod") {
		t.Errorf("unknown context: exit %d, %q", r.Code, r.Stderr)
	}
	r = keyway(t, env, "config", "use-context", "staging")
	if r.Code != 1 || !strings.Contains(r.Stderr, `no context "staging"`) {
		t.Errorf("use-context staging: exit %d, %q", r.Code, r.Stderr)
	}
}
