package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keyway.dev/integration/harness"
)

// TestBackupRestore exports a control plane's keys with keyway backup
// export, restores them with keyway backup import into a control plane
// started on a new data dir, and reads the same versions (numbers,
// authors, messages, active), flags, rollouts, pins and tokens back from
// it; the restored token authenticates, and pushes continue from the
// restored head.
func TestBackupRestore(t *testing.T) {
	src := harness.StartControlWith(t, harness.ControlOptions{})
	v1 := harness.WritePolicy(t, map[string]string{"main.star": cliPolicy("v1")})
	v2 := harness.WritePolicy(t, map[string]string{"main.star": cliPolicy("v2")})
	v3 := harness.WritePolicy(t, map[string]string{"main.star": cliPolicy("v3")})
	mustCLI := func(addr string, args ...string) string {
		t.Helper()
		r := harness.CLI(t, addr, args...)
		if r.Code != 0 {
			t.Fatalf("keyway %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
		}
		return r.Stdout
	}
	mustCLI(src.Addr, "policy", "push", v1, "-m", "first", "--author", "alice@laptop")
	mustCLI(src.Addr, "policy", "push", v2, "-m", "second", "--author", "bob@ci", "--no-activate")
	mustCLI(src.Addr, "flag", "set", "exp", "--domain", "default", "--percent", "30")
	mustCLI(src.Addr, "rollout", "start", "--domain", "default", "--to", "v2", "--steps", "50,100", "--interval", "1h")
	mustCLI(src.Addr, "rollout", "pause", "--domain", "default")
	// The token comes last: from then on the admin API wants it.
	secret := strings.TrimSpace(mustCLI(src.Addr, "token", "create", "ops", "--role", "admin"))
	tok := []string{"--token", secret}

	// What the restore must give back, as the CLI reads it.
	reads := [][]string{
		{"policy", "history", "-o", "json"},
		{"policy", "show", "v1", "-o", "json"},
		{"policy", "show", "v2", "-o", "json"},
		{"flag", "list", "-o", "json"},
		{"rollout", "status", "--domain", "default", "-o", "json"},
		{"token", "list", "-o", "json"},
	}
	before := make([]string, len(reads))
	for i, args := range reads {
		before[i] = mustCLI(src.Addr, append(tok, args...)...)
	}
	for _, want := range []string{`"author": "alice@laptop"`, `"author": "bob@ci"`, `"active": 1`, `"head": 2`} {
		if !strings.Contains(before[0], want) {
			t.Fatalf("policy history before the backup lacks %s:\n%s", want, before[0])
		}
	}

	file := filepath.Join(t.TempDir(), "keyway-backup.json")
	if r := harness.CLI(t, src.Addr, "backup", "export", file); r.Code == 0 || !strings.Contains(r.Stderr, "token") {
		t.Fatalf("backup export without the token: exit %d, stderr %q; want a refusal naming the token", r.Code, r.Stderr)
	}
	harness.Contains(t, "backup export", mustCLI(src.Addr, append(tok, "backup", "export", file)...), "exported", "fleet default", file)
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("backup file mode %v, want 0600: it holds the token hashes", info.Mode().Perm())
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), secret) {
		t.Fatal("the backup holds a token's secret")
	}
	src.Stop()

	dst := harness.StartControlWith(t, harness.ControlOptions{})
	mustCLI(dst.Addr, "policy", "push", v3, "-m", "stray")
	if r := harness.CLI(t, dst.Addr, "backup", "import", file); r.Code != 1 || !strings.Contains(r.Stderr, "already has policy versions") {
		t.Fatalf("import into a fleet with versions: exit %d, stderr %q; want a refusal", r.Code, r.Stderr)
	}
	dst.Stop()

	dst = harness.StartControlWith(t, harness.ControlOptions{})
	harness.Contains(t, "backup import", mustCLI(dst.Addr, "backup", "import", file), "imported", "head v2, active v1")
	// The restored token is the only way in now.
	if r := harness.CLI(t, dst.Addr, "policy", "history"); r.Code == 0 {
		t.Fatalf("policy history without a token after the restore succeeded: %s", r.Stdout)
	}
	for i, args := range reads {
		if got := mustCLI(dst.Addr, append(tok, args...)...); got != before[i] {
			t.Errorf("keyway %s after the restore:\n%s\nwant, as before the backup:\n%s", strings.Join(args, " "), got, before[i])
		}
	}
	harness.Contains(t, "push after the restore", mustCLI(dst.Addr, append(tok, "policy", "push", v3, "-m", "third")...), "v3")
	harness.Contains(t, "history after the push", mustCLI(dst.Addr, append(tok, "policy", "history")...), "third", "second", "first")
}
