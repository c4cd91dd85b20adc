package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"keyway.dev/integration/harness"
	"keyway.dev/proto/certtest"
)

// cliPolicy has one domain with a flag engine and one test case, so every
// keyway command has something to act on.
func cliPolicy(note string) string {
	return fmt.Sprintf(`# %s
a = redis("a", address = "127.0.0.1:6401")
b = redis("b", address = "127.0.0.1:6402")
domain("default", flag("exp", on = b, off = a))
test("flag off goes to a", "default", ["GET", "k"], expect_upstream = a)
`, note)
}

// securedControl starts keyway-control with TLS and a bootstrapped admin
// token, and returns it with the CA file and the token.
func securedControl(t *testing.T) (*harness.Control, string, string) {
	t.Helper()
	ca := certtest.NewCA(t, "keyway-cli")
	srv := ca.Server(t, "keyway-control")
	tokenFile := filepath.Join(t.TempDir(), "admin-token")
	cp := harness.StartControlWith(t, harness.ControlOptions{
		Args: []string{"--tls-cert", srv.CertFile, "--tls-key", srv.KeyFile, "--bootstrap-token-file", tokenFile},
		Dial: []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}))},
	})
	raw, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatalf("bootstrap token: %v", err)
	}
	return cp, ca.CertFile, strings.TrimSpace(string(raw))
}

// keyway runs the CLI with exactly env as its environment (plus PATH).
func keyway(t *testing.T, env []string, args ...string) harness.CLIResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, harness.Build(t).CLI, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run keyway %v: %v", args, err)
	}
	return harness.CLIResult{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// TestEveryCommandWithTokenAndTLS runs every keyway command against a
// control plane that requires a token and serves TLS, with the address,
// token and CA taken from the config file; then the reading commands again
// with the same settings from flags and from the environment; and checks
// that no command is left out, by the headings of cli/README.md.
func TestEveryCommandWithTokenAndTLS(t *testing.T) {
	cp, caFile, token := securedControl(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	body := fmt.Sprintf("address: %s\ntoken: %s\ntls:\n  ca: %s\n  server_name: localhost\ncontexts:\n  secured:\n    address: %s\n", cp.Addr, token, caFile, cp.Addr)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	v1 := harness.WritePolicy(t, map[string]string{"main.star": cliPolicy("v1")})
	v2 := harness.WritePolicy(t, map[string]string{"main.star": cliPolicy("v2")})
	fromFile := []string{"KEYWAY_CONFIG=" + cfg}

	steps := []struct {
		path string // the command, as cli/README.md names it
		args []string
		want string // in stdout
	}{
		{"keyway version", []string{"version"}, "server: keyway-control "},
		{"keyway policy validate", []string{"policy", "validate", v1, "--remote"}, ""},
		{"keyway policy test", []string{"policy", "test", v1}, "PASS"},
		{"keyway policy push", []string{"policy", "push", v1, "-m", "first"}, "v1"},
		{"keyway policy push", []string{"policy", "push", v2, "-m", "second", "--no-activate"}, "v2"},
		{"keyway policy history", []string{"policy", "history"}, "first"},
		{"keyway policy show", []string{"policy", "show", "v2"}, "second"},
		{"keyway policy diff", []string{"policy", "diff", "v1", "v2"}, "+# v2"},
		// Shell completion asks the control plane with the same settings.
		{"keyway completion", []string{"__complete", "policy", "show", ""}, "v2\n"},
		{"keyway completion", []string{"__complete", "rollout", "start", "--domain", ""}, "default\n"},
		{"keyway fleet", []string{"fleet"}, ""},
		{"keyway top", []string{"top", "--once"}, "keyway top"},
		{"keyway top", []string{"top", "--once", "-o", "json"}, "{"},
		{"keyway flag set", []string{"flag", "set", "exp", "--domain", "default", "--percent", "30"}, ""},
		{"keyway flag list", []string{"flag", "list"}, "exp"},
		{"keyway completion", []string{"__complete", "flag", "delete", ""}, "exp\n"},
		{"keyway flag delete", []string{"flag", "delete", "exp", "--domain", "default"}, ""},
		{"keyway rollout start", []string{"rollout", "start", "--domain", "default", "--to", "v2", "--steps", "50,100", "--interval", "1h"}, ""},
		{"keyway rollout status", []string{"rollout", "status", "--domain", "default"}, "v2"},
		{"keyway completion", []string{"__complete", "rollout", "pause", "--domain", ""}, "default\n"},
		{"keyway rollout pause", []string{"rollout", "pause", "--domain", "default"}, ""},
		{"keyway rollout resume", []string{"rollout", "resume", "--domain", "default"}, ""},
		{"keyway rollout abort", []string{"rollout", "abort", "--domain", "default"}, ""},
		{"keyway rollout start", []string{"rollout", "start", "--domain", "default", "--to", "v2", "--steps", "50,100", "--interval", "1h"}, ""},
		{"keyway rollout promote", []string{"rollout", "promote", "--domain", "default"}, ""},
		{"keyway policy rollback", []string{"policy", "rollback", "v1"}, ""},
		{"keyway audit", []string{"audit"}, "push"},
		{"keyway token create", []string{"token", "create", "ci", "--role", "viewer"}, "kwt_"},
		{"keyway token list", []string{"token", "list"}, "ci"},
		{"keyway completion", []string{"__complete", "token", "revoke", ""}, "ci\n"},
		{"keyway token revoke", []string{"token", "revoke", "ci"}, ""},
		{"keyway backup export", []string{"backup", "export", filepath.Join(dir, "backup.json")}, "exported"},
		{"keyway completion", []string{"completion", "bash"}, "__start_keyway"},
		{"keyway config use-context", []string{"config", "use-context", "secured"}, "secured"},
		{"keyway config current-context", []string{"config", "current-context"}, "secured"},
		{"keyway config get-contexts", []string{"config", "get-contexts"}, "secured"},
		{"keyway fleet", []string{"fleet"}, ""},
	}
	// explain talks to a proxy over RESP, never to the control plane.
	ran := map[string]bool{"keyway explain": true}
	for _, s := range steps {
		r := keyway(t, fromFile, s.args...)
		if r.Code != 0 || !strings.Contains(r.Stdout, s.want) {
			t.Fatalf("keyway %s: exit %d, want 0 and %q in stdout\nstdout: %s\nstderr: %s", strings.Join(s.args, " "), r.Code, s.want, r.Stdout, r.Stderr)
		}
		if strings.Contains(r.Stdout+r.Stderr, token) {
			t.Fatalf("keyway %s printed the token", strings.Join(s.args, " "))
		}
		ran[s.path] = true
	}
	// Import reaches the server with the same settings; this fleet has
	// versions, so it is refused (TestBackupRestore imports for real).
	if r := keyway(t, fromFile, "backup", "import", filepath.Join(dir, "backup.json")); r.Code != 1 || !strings.Contains(r.Stderr, "already has policy versions") {
		t.Fatalf("keyway backup import into a fleet with versions: exit %d, stderr %q; want 1 and the refusal", r.Code, r.Stderr)
	}
	ran["keyway backup import"] = true
	if strings.Contains(keyway(t, fromFile, "top", "--once").Stdout, "\x1b") {
		t.Error("keyway top wrote terminal control codes into a pipe")
	}

	// The same settings from flags and from the environment.
	reads := [][]string{{"policy", "history"}, {"fleet"}, {"top", "--once"}, {"rollout", "status", "--all"}, {"flag", "list"}, {"audit"}, {"token", "list"}}
	flags := []string{"--addr", cp.Addr, "--token", token, "--ca", caFile}
	env := []string{"KEYWAY_ADDR=" + cp.Addr, "KEYWAY_TOKEN=" + token}
	for _, args := range reads {
		for _, c := range []struct {
			how  string
			env  []string
			args []string
		}{
			{"flags", nil, append(append([]string{}, flags...), args...)},
			{"environment", env, append([]string{"--ca", caFile}, args...)},
		} {
			if r := keyway(t, c.env, c.args...); r.Code != 0 {
				t.Errorf("keyway %s with settings from %s: exit %d\n%s", strings.Join(args, " "), c.how, r.Code, r.Stderr)
			}
		}
		// Without a token: a sentence, not a raw gRPC status.
		r := keyway(t, nil, append([]string{"--addr", cp.Addr, "--ca", caFile}, args...)...)
		if r.Code != 1 || !strings.Contains(r.Stderr, "needs a token") || strings.Contains(r.Stderr, "rpc error") {
			t.Errorf("keyway %s without a token: exit %d, stderr %q; want 1 and a sentence", strings.Join(args, " "), r.Code, r.Stderr)
		}
	}

	readme, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), "cli", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var heads []string
	for _, line := range strings.Split(string(readme), "\n") {
		if p, ok := strings.CutPrefix(line, "### "); ok && strings.HasPrefix(p, "keyway") {
			heads = append(heads, p)
		}
	}
	for _, h := range heads {
		group := false
		for _, o := range heads {
			group = group || strings.HasPrefix(o, h+" ")
		}
		if !group && !ran[h] {
			t.Errorf("%s is documented in cli/README.md but this test does not run it", h)
		}
	}
	var js struct{ Domains []json.RawMessage }
	if r := keyway(t, fromFile, "top", "--once", "-o", "json"); json.Unmarshal([]byte(r.Stdout), &js) != nil {
		t.Errorf("top -o json is not JSON:\n%s", r.Stdout)
	}
}
