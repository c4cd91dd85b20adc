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

// TestAuthorIsTheAuthenticatedCaller pushes with a token and a made-up
// --author against a real keyway-control (gRPC, TLS, embedded etcd): the
// version's author is the token's identity, and the name typed is kept
// as a note, in `policy history` (table and JSON), `policy show` and the
// audit log alike.
func TestAuthorIsTheAuthenticatedCaller(t *testing.T) {
	cp, caFile, token := securedControl(t)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	body := fmt.Sprintf("address: %s\ntoken: %s\ntls:\n  ca: %s\n  server_name: localhost\n", cp.Addr, token, caFile)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"KEYWAY_CONFIG=" + cfg}
	run := func(args ...string) string {
		t.Helper()
		r := keyway(t, env, args...)
		if r.Code != 0 {
			t.Fatalf("keyway %s: exit %d\n%s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
		}
		return r.Stdout
	}
	dir := harness.WritePolicy(t, map[string]string{"main.star": cliPolicy("v1")})
	run("policy", "push", dir, "-m", "first", "--author", "mallory")

	var h struct {
		Versions []struct {
			Author     string `json:"author"`
			AuthorNote string `json:"author_note"`
		} `json:"versions"`
	}
	if err := json.Unmarshal([]byte(run("policy", "history", "-o", "json")), &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Versions) != 1 || !strings.HasPrefix(h.Versions[0].Author, "token:") || h.Versions[0].AuthorNote != "mallory" {
		t.Fatalf("history JSON versions = %+v, want author token:<name> and author_note mallory", h.Versions)
	}
	who := h.Versions[0].Author + " (as mallory)"
	harness.Contains(t, "policy history", run("policy", "history"), who)
	harness.Contains(t, "policy show", run("policy", "show", "v1"), "author:   "+who)
	harness.Contains(t, "audit", run("audit"), who)
}
