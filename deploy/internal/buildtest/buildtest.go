// Package buildtest finds or builds the Keyway binaries the deploy tests
// inspect and run.
package buildtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Root is the repository root, from a test in deploy/<pkg>.
func Root(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// Binaries returns a directory holding keyway-control, keyway-proxy and
// keyway: $KEYWAY_STATIC_BIN when set (make passes its bin/), else built
// now, statically (CGO_ENABLED=0) and stamped with version, as `make
// build` does.
func Binaries(t testing.TB, version string) string {
	t.Helper()
	if dir := os.Getenv("KEYWAY_STATIC_BIN"); dir != "" {
		return dir
	}
	root := Root(t)
	out := t.TempDir()
	ld := "-X keyway.dev/proto/buildinfo.version=" + version +
		" -X keyway.dev/proto/buildinfo.commit=0123456789abcdef0123456789abcdef01234567" +
		" -X keyway.dev/proto/buildinfo.date=2026-12-06T00:00:00Z"
	for _, b := range []struct{ mod, pkg, name string }{
		{"controlplane", "./cmd/keyway-control", "keyway-control"},
		{"dataplane", "./cmd/keyway-proxy", "keyway-proxy"},
		{"cli", "./cmd/keyway", "keyway"},
	} {
		cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ld, "-o", filepath.Join(out, b.name), b.pkg)
		cmd.Dir = filepath.Join(root, b.mod)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK="+filepath.Join(root, "go.work"), "GOFLAGS=")
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", b.name, err, msg)
		}
	}
	return out
}
