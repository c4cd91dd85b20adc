package backup_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keyway.dev/cli/internal/clitest"
)

// A file that is missing or not a backup is refused before the control
// plane is asked; export and import want exactly one FILE.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	notBackup := filepath.Join(dir, "policy.star")
	if err := os.WriteFile(notBackup, []byte("domain(\"web\")\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unknownField := filepath.Join(dir, "other.json")
	if err := os.WriteFile(unknownField, []byte(`{"fleet": "a", "versions": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"import missing file", []string{"backup", "import", filepath.Join(dir, "nope.json")}, 1, "read the backup: open " + filepath.Join(dir, "nope.json")},
		{"import not json", []string{"backup", "import", notBackup}, 1, notBackup + " is not a keyway backup"},
		{"import unknown field", []string{"backup", "import", unknownField}, 1, `unknown field "versions"`},
		{"import no file", []string{"backup", "import"}, 2, "takes 1 argument(s), got "},
		{"export two files", []string{"backup", "export", "a", "b"}, 2, "takes 1 argument(s), got "},
		{"export unreachable", []string{"backup", "export", filepath.Join(dir, "out.json")}, 1, "cannot reach the control plane at 127.0.0.1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := clitest.Run(t, "127.0.0.1:1", tc.args...)
			if r.Code != tc.code || !strings.Contains(r.Stderr, tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", r.Code, r.Stderr, tc.code, tc.stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "out.json")); !os.IsNotExist(err) {
		t.Errorf("a failed export left a file: %v", err)
	}
}
